import KaroKarRPC
import NIOCore

/// Checks the handshake, idle, frame and stall timeouts of every connection of one event loop
/// with one timer, every quarter of the shortest of them (at least 10 ms), armed while the loop
/// has connections.
///
/// Not a timer per connection: NIO keeps a loop's timers in a heap, and each one that fires or is
/// cancelled costs a walk through it (a linear search to cancel). With ten thousand connections,
/// their timers took 9% of a core from an otherwise idle server, and opening or closing each connection
/// (cancelling its timers) a search of ten thousand entries.
final class ConnectionSweeper {
    private let loop: any EventLoop
    private let period: TimeAmount
    private var connections: [ObjectIdentifier: ServerConnectionHandler] = [:]
    private var armed = false

    init(loop: any EventLoop, limits: ServerLimits) {
        self.loop = loop
        let shortest = min(limits.handshakeTimeout, limits.idleTimeout, limits.frameTimeout, limits.outboundStallTimeout)
        period = .nanoseconds(max(TimeAmount(shortest / 4).nanoseconds, 10_000_000))
    }

    func add(_ connection: ServerConnectionHandler) {
        connections[ObjectIdentifier(connection)] = connection
        if !armed { arm() }
    }

    func remove(_ connection: ServerConnectionHandler) {
        connections[ObjectIdentifier(connection)] = nil
    }

    /// Re-armed after each round while there are connections; never cancelled (see above).
    private func arm() {
        armed = true
        loop.assumeIsolated().scheduleTask(in: period) { [self] in
            armed = false
            let now = NIODeadline.now()
            // A copy: a connection that times out closes, and may leave `connections` meanwhile.
            for connection in connections.values { connection.checkTimeouts(now: now) }
            if !connections.isEmpty { arm() }
        }
    }
}

@available(*, unavailable)
extension ConnectionSweeper: Sendable {}

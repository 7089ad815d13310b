import NIOCore
import KaroKarMessages
import KaroKarRPC
import KaroKarToolSupport

/// A validated load run: what to call, how hard, for how long.
struct BenchPlan: Sendable {
    enum Length: Sendable {
        case duration(Duration)
        case total(Int)
    }

    var address: ServerAddress
    var method: ResolvedMethod
    var requests: RequestSource
    var metadata: Metadata
    var timeout: Duration?
    var concurrency: Int
    var connections: Int
    /// Calls per second over all connections; nil: closed loop.
    var rate: Double?
    var length: Length
    var warmup: Duration
    var seed: UInt64
    var serverPID: Int32?
    /// Connections opened and handshaken before the run and left idle through it.
    var idleConnections = 0
    /// TLS on every connection (`--tls…`); nil: plain TCP.
    var tls: RPCClientTLS?

    var frames: CallFrameWriter {
        CallFrameWriter(path: method.path, timeout: timeout, metadata: metadata)
    }

    /// In-flight calls allowed on connection `index`: the concurrency split as evenly as possible.
    func limit(connection index: Int) -> Int {
        concurrency / connections + (index < concurrency % connections ? 1 : 0)
    }

    func schedule(start: UInt64) -> LoadSchedule {
        let measureFrom = start + UInt64(TimeAmount(warmup).nanoseconds)
        let stop: LoadSchedule.Stop
        switch length {
        case .duration(let duration): stop = .at(measureFrom + UInt64(TimeAmount(duration).nanoseconds))
        case .total: stop = .afterCalls(0)  // per connection, see work(connection:schedule:)
        }
        let interval = rate.map { UInt64((Double(connections) * 1e9 / $0).rounded()) }
        let grace = UInt64(TimeAmount(timeout ?? .seconds(10)).nanoseconds) + 1_000_000_000
        return LoadSchedule(measureFrom: measureFrom, stop: stop, interval: interval, grace: grace)
    }

    /// Windows of about a fiftieth of the run, from 10 ms to 1 s.
    var seriesWidth: UInt64 {
        guard case .duration(let duration) = length else { return 100_000_000 }
        return UInt64(min(max(duration.inSeconds / 50, 0.01), 1) * 1e9)
    }

    func work(connection index: Int, schedule: LoadSchedule) -> LoadConnectionHandler.Work {
        var schedule = schedule
        if case .total(let total) = length {
            let share = total / connections + (index < total % connections ? 1 : 0)
            schedule = LoadSchedule(measureFrom: schedule.measureFrom, stop: .afterCalls(share), interval: schedule.interval, grace: schedule.grace)
        }
        return LoadConnectionHandler.Work(
            limit: limit(connection: index), schedule: schedule, frames: frames, requests: requests,
            firstSequence: UInt64(index), sequenceStride: UInt64(connections),
            random: BenchRandom(seed: seed &+ UInt64(index) &* 0x9E37_79B9), seriesWidth: seriesWidth
        )
    }

    /// Refuses a run the server would answer with TOO_MANY_CALLS rather than measure.
    func check(_ ack: RPCV1.HelloAck) throws(ToolError) {
        let perConnection = limit(connection: 0)
        if ack.maxCallsInFlight > 0 && perConnection > Int(ack.maxCallsInFlight) {
            throw ToolError("\(perConnection) calls in flight per connection exceed the server's limit of \(ack.maxCallsInFlight); use more --connections")
        }
    }
}

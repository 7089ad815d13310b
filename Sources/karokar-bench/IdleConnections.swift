import KaroKarRPC
import KaroKarToolSupport
import NIOCore
import NIOPosix

/// Connections that say HELLO and then nothing, held open beside a load run
/// (`--idle-connections`): how the active connections fare beside thousands of idle ones, and,
/// given the server's pid, what each idle one costs the server in memory.
struct IdleConnections {
    let channels: [any Channel]
    /// Growth of the server's resident memory while they opened, per connection; nil without a pid.
    let serverBytesPerConnection: Double?

    /// Opens `count` connections, 256 at a time, each handshaken (its HELLO_ACK read) before it
    /// counts; the server's resident memory is read before and a second after.
    static func open(_ count: Int, to address: ServerAddress, tls: RPCClientTLS?, group: any EventLoopGroup, serverPID: Int32?) async throws -> IdleConnections {
        OpenFileLimit.raise(toAtLeast: count + 1_024)
        let before = serverPID.flatMap(residentBytes(pid:))
        var channels: [any Channel] = []
        channels.reserveCapacity(count)
        while channels.count < count {
            try await withThrowingTaskGroup(of: (any Channel).self) { tasks in
                for _ in 0..<min(256, count - channels.count) {
                    tasks.addTask { try await connect(to: address, tls: tls, group: group) }
                }
                for try await channel in tasks { channels.append(channel) }
            }
        }
        try await Task.sleep(for: .seconds(1))
        let after = serverPID.flatMap(residentBytes(pid:))
        let perConnection = before.flatMap { start in after.map { Double($0 - start) / Double(count) } }
        return IdleConnections(channels: channels, serverBytesPerConnection: perConnection)
    }

    func close() async {
        let closing = channels.map { $0.close() }
        for closed in closing { try? await closed.get() }
    }

    private static func connect(to address: ServerAddress, tls: RPCClientTLS?, group: any EventLoopGroup) async throws -> any Channel {
        let loop = group.next()
        let acknowledged = loop.makePromise(of: Void.self)
        do {
            let channel = try await ClientBootstrap(group: loop)
                .connectTimeout(.seconds(10))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Greeter(acknowledged: acknowledged))
                        // A failed handshake closes the channel, which fails `acknowledged`.
                        _ = try tls?.addHandlers(to: channel, host: address.host)
                    }
                }
                .connect(host: address.host, port: address.port).get()
            try await acknowledged.futureResult.get()
            return channel
        } catch {
            acknowledged.fail(error)
            throw ToolError("cannot open an idle connection to \(address): \(error)")
        }
    }

    /// Sends HELLO; the first bytes back (HELLO_ACK) complete `acknowledged`; the rest is dropped.
    final class Greeter: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private let acknowledged: EventLoopPromise<Void>

        init(acknowledged: EventLoopPromise<Void>) {
            self.acknowledged = acknowledged
        }

        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(NIOAny(CallFrameWriter.hello(clientName: "karokar-bench-idle")), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            acknowledged.succeed()
        }

        func channelInactive(context: ChannelHandlerContext) {
            acknowledged.fail(ChannelError.ioOnClosedChannel)
            context.fireChannelInactive()
        }
    }

    /// `VmRSS` of `/proc/PID/status`, in bytes; nil elsewhere.
    static func residentBytes(pid: Int32) -> Int? {
        guard let status = ProcFile.contents(pid: pid, "status") else { return nil }
        let text = String(decoding: status, as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kilobytes * 1024
    }
}

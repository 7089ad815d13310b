import NIOCore
import NIOPosix

/// A TCP relay on 127.0.0.1 whose connections reach the server from another loopback address
/// (`127.0.0.N`, all local on Linux): for tests about what the server counts per client address.
/// A client connected to the relay is, to the server, a client at `source`.
struct AddressRelay: Sendable {
    let listener: any Channel
    let source: String

    static func start(to target: SocketAddress, from source: String) async throws -> AddressRelay {
        let origin = try SocketAddress(ipAddress: source, port: 0)
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { inbound in
                // The inbound side is registered (and reads) only once this completes.
                ClientBootstrap(group: inbound.eventLoop)
                    .bind(to: origin)
                    .channelInitializer { outbound in
                        outbound.eventLoop.makeCompletedFuture { try outbound.pipeline.syncOperations.addHandler(Pipe(to: inbound)) }
                    }
                    .connect(to: target)
                    .flatMapThrowing { outbound in try inbound.pipeline.syncOperations.addHandler(Pipe(to: outbound)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return AddressRelay(listener: listener, source: source)
    }

    var port: Int { listener.localAddress!.port! }

    func stop() async {
        try? await listener.close()
    }

    /// Forwards what one side reads to the other, and closes the other when one closes.
    private final class Pipe: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let peer: any Channel

        init(to peer: any Channel) {
            self.peer = peer
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            peer.writeAndFlush(unwrapInboundIn(data), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            peer.close(promise: nil)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}

import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport

/// An Identity client whose calls reach a test server from `source` (through an ``AddressRelay``).
struct AddressedClient: Sendable {
    let relay: AddressRelay
    let rpc: RPCClient

    static func start(_ server: TestServer, from source: String) async throws -> AddressedClient {
        let relay = try await AddressRelay.start(to: server.address, from: source)
        return AddressedClient(relay: relay, rpc: RPCClient(configuration: .init(host: "127.0.0.1", port: relay.port), group: TestServer.group))
    }

    var identity: IdentityV1.IdentityService.Client { IdentityV1.IdentityService.Client(rpc) }

    func login(_ email: String, _ password: String = TestMarketplace.password) async throws -> TestSession {
        try await identity.signIn(email, password)
    }

    func stop() async {
        await rpc.close()
        await relay.stop()
    }
}

/// How each of `count` concurrent calls ended: `OK`, or `CODE/DOMAIN_CODE`; and the retry
/// delays the refusals suggested.
func outcomes(_ count: Int, _ call: @escaping @Sendable (Int) async throws -> Void) async -> (tally: [String: Int], retryMillis: [UInt64]) {
    await withTaskGroup(of: (String, UInt64?).self) { group in
        for index in 0..<count {
            group.addTask {
                do {
                    try await call(index)
                    return ("OK", nil)
                } catch let error as RPCError {
                    return ("\(error.code)/\(error.domainCode ?? "")", error.details?.retryInfo?.retryDelayMillis)
                } catch {
                    return ("\(error)", nil)
                }
            }
        }
        var tally: [String: Int] = [:]
        var retries: [UInt64] = []
        for await (outcome, retry) in group {
            tally[outcome, default: 0] += 1
            if let retry { retries.append(retry) }
        }
        return (tally, retries)
    }
}

import KaroKarMessages
import KaroKarProto
@testable import KaroKarRPC
@testable import KaroKarRPCServer
import NIOCore
import Testing

/// The per-connection MethodCache must change no outcome: through it, every CALL decodes exactly
/// as without it, whatever came before.
@Suite("Method cache of a connection")
struct MethodCacheTests {
    static func body(_ method: String, payloadBytes: Int = 3) -> ByteBuffer {
        ByteBuffer(bytes: ProtoCodec.encode(RPCV1.Call(method: method, payload: [UInt8](repeating: 7, count: payloadBytes))))
    }

    static func outcome(_ body: ByteBuffer, limits: ServerLimits, cache: inout MethodCache?) -> String {
        do {
            let envelope = try CallEnvelope.decode(body, limits: limits, cache: &cache)
            return "\(envelope.path) \(envelope.payload.readableBytes)"
        } catch {
            return "\(error.code) \(error.domainCode ?? "")"
        }
    }

    @Test func sameAnswersWithAndWithoutTheCache() {
        var limits = ServerLimits()
        limits.methodRequestBytes = ["/a.S/Small": 2]
        let invalidUTF8 = ByteBuffer(bytes: [0x0A, 0x09] + Array("/a.S/".utf8) + [0xC3, 0x28, 0x41, 0x42])
        let sequence = [
            Self.body("/a.S/Echo"), Self.body("/a.S/Echo"), Self.body("/a.S/Echx"), Self.body("/a.S/Small"), Self.body("/a.S/Small"),
            Self.body("/a.S/Small", payloadBytes: 1), invalidUTF8, invalidUTF8, Self.body("/a.S/Echo\u{0}tail"), Self.body("/a.S/Echo"), Self.body(""),
        ]
        var cache: MethodCache? = MethodCache()
        var none: MethodCache?
        for body in sequence {
            #expect(Self.outcome(body, limits: limits, cache: &cache) == Self.outcome(body, limits: limits, cache: &none))
        }
        #expect(Self.outcome(Self.body("/a.S/Small"), limits: limits, cache: &cache) == "\(RPCCode.resourceExhausted) REQUEST_TOO_LARGE")
    }

    @Test func remembersTheRouteOnlyForItsPath() {
        let route = RPCV1.DiagnosticsService.Method.echo
        let target = CallDispatcher.Target(service: "s", route: RPCRoute(route) { request, _ in RPCV1.EchoResponse(payload: request.payload) })
        var cache: MethodCache? = MethodCache()
        let body = Self.body("/a.S/Echo")
        _ = Self.outcome(body, limits: ServerLimits(), cache: &cache)
        #expect(cache?.target(for: "/a.S/Echo") == nil)
        cache?.remember(target, for: "/a.S/Echo")
        #expect(cache?.target(for: "/a.S/Echo") === target)
        #expect(cache?.target(for: "/a.S/Other") == nil)
        _ = Self.outcome(Self.body("/a.S/Other"), limits: ServerLimits(), cache: &cache)
        #expect(cache?.target(for: "/a.S/Echo") == nil, "a new path forgets the old route")
    }
}

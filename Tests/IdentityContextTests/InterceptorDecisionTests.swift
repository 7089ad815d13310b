import Foundation
@testable import IdentityContext
import KaroKarKernel
import KaroKarRPC
import Logging
import NIOCore
import Testing

/// The interceptor's decisions that need no database: a method whose declared rule this server
/// cannot honour is refused whoever calls, and a missing or malformed credential on a non-public
/// method is UNAUTHENTICATED, before the handler (`next`) runs.
@Suite("Identity: interceptor decisions")
struct InterceptorDecisionTests {
    struct NoDatabase: Error {}

    let interceptor: AuthorizationInterceptor

    init() throws {
        let authority = TokenAuthority(accessTokenLifetime: .seconds(60), clock: SystemClock())
        let key = try TokenKey(algorithm: .hs256, material: TokenKey.generateMaterial(for: .hs256))
        authority.install(TokenCodec(key: key, issuer: "karokar", audience: "karokar-rpc"))
        interceptor = AuthorizationInterceptor(authority: authority, cache: PrincipalCache(timeToLive: .seconds(1))) { _ in throw NoDatabase() }
    }

    /// Rules as a `.proto` may declare them; the last two name no permission this server knows.
    static let rules: [MethodAccess] = [.public, .authenticated, .permissions(["member.read"]), .permissions(["no.such"]), .permissions([])]
    static let credentials = [Metadata(), Metadata([("authorization", "Basic x")]), Metadata([("authorization", "Bearer not-a-token")])]

    func outcome(_ access: MethodAccess, metadata: Metadata = Metadata()) async -> RPCError? {
        let context = ServerCallContext(
            path: "/test.Service/Method", service: "test.Service", method: "Method", access: access, callID: 1, metadata: metadata,
            deadline: nil, peer: "test", logger: Logger(label: "test")
        )
        do {
            _ = try await interceptor.intercept(context: context) { _ in ByteBuffer() }
            return nil
        } catch let error as RPCError {
            return error
        } catch {
            return RPCError(.unknown, "\(error)")
        }
    }

    /// What `admitNow` (the immediate path) decides for the same call.
    enum Immediate: Equatable {
        case admitted
        case refused(RPCCode, String?)
        /// The credential must be verified: the call takes the task path, where `intercept` decides.
        case deferred
    }

    func immediate(_ access: MethodAccess, metadata: Metadata, prepared: Bool) -> Immediate {
        let method = CallMethod(
            path: "/test.Service/Method", service: "test.Service", name: "Method", access: access, interceptors: prepared ? [interceptor] : []
        )
        var context = ServerCallContext(
            methodInfo: method, callID: 1, metadata: metadata, deadline: nil, connectionInfo: CallConnection(peer: "test", logger: Logger(label: "test"))
        )
        do {
            return try interceptor.admitNow(context: &context) ? .admitted : .deferred
        } catch {
            return .refused(error.code, error.domainCode)
        }
    }

    /// The immediate decision never contradicts the full one: it admits what `intercept` admits,
    /// refuses with the same status, or leaves the decision to `intercept` (only when there is a
    /// credential to verify), with the method's rule prepared in advance or resolved on the call.
    @Test func theImmediateDecisionAgreesWithTheFullOne() async {
        for access in Self.rules {
            for metadata in Self.credentials {
                let full = await outcome(access, metadata: metadata)
                for prepared in [false, true] {
                    switch immediate(access, metadata: metadata, prepared: prepared) {
                    case .admitted:
                        #expect(full == nil, "\(access) \(metadata)")
                    case .refused(let code, let domainCode):
                        #expect(full?.code == code && full?.domainCode == domainCode, "\(access) \(metadata)")
                    case .deferred:
                        #expect(metadata.bytes(for: Metadata.Key.authorization) != nil, "\(access): nothing to verify, nothing to defer")
                    }
                }
            }
        }
    }

    @Test func aRuleNamingNoKnownPermissionIsRefusedEvenWithoutCredentials() async {
        #expect(await outcome(.permissions(["no.such"]))?.code == .permissionDenied)
        #expect(await outcome(.permissions([]))?.code == .permissionDenied)
        #expect(await outcome(.permissions(["member.read", "no.such"]))?.code == .permissionDenied, "one unknown name spoils the rule")
    }

    @Test func nonPublicMethodsNeedAToken() async {
        #expect(await outcome(.authenticated)?.domainCode == "MISSING_TOKEN")
        #expect(await outcome(.permissions(["member.read"]))?.domainCode == "MISSING_TOKEN")
        #expect(await outcome(.authenticated, metadata: Metadata([("authorization", "Basic x")]))?.code == .unauthenticated)
        #expect(await outcome(.public) == nil, "public: the handler runs")
        #expect(await outcome(.public, metadata: Metadata([("authorization", "Bearer not-a-token")]))?.code == .unauthenticated,
                "credentials sent to a public method are still verified")
    }
}

import Foundation
@testable import IdentityContext
import KaroKarKernel
import KaroKarPostgres
import KaroKarRPC
import Logging
import NIOCore
import Testing

/// The interceptor's decisions that need no database: a path missing from the access table is
/// refused whoever calls, and a missing or malformed credential on a non-public path is
/// UNAUTHENTICATED, before the handler (`next`) runs.
@Suite("Identity: interceptor decisions")
struct InterceptorDecisionTests {
    let interceptor = AuthorizationInterceptor(
        authority: TokenAuthority(accessTokenLifetime: .seconds(60)), cache: PrincipalCache(timeToLive: .seconds(1)),
        pool: PostgresPool(configuration: .init(connectionString: "host=/nonexistent dbname=unused"))
    )

    func outcome(_ path: String, metadata: Metadata = Metadata()) async -> RPCError? {
        let context = ServerCallContext(
            path: path, service: "", method: "", callID: 1, metadata: metadata, deadline: nil, peer: "test", logger: Logger(label: "test")
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

    func immediate(_ path: String, metadata: Metadata, prepared: Bool) -> Immediate {
        var context = ServerCallContext(
            methodInfo: CallMethod(path: path, service: "", name: "", interceptors: prepared ? [interceptor] : []), callID: 1,
            metadata: metadata, deadline: nil, connectionInfo: CallConnection(peer: "test", logger: Logger(label: "test"))
        )
        do {
            return try interceptor.admitNow(context: &context) ? .admitted : .deferred
        } catch {
            return .refused(error.code, error.domainCode)
        }
    }

    /// The immediate decision never contradicts the full one: it admits what `intercept` admits,
    /// refuses with the same status, or leaves the decision to `intercept` (only when there is a
    /// credential to verify), with the method's rule looked up by path or prepared in advance.
    @Test func theImmediateDecisionAgreesWithTheFullOne() async {
        let paths = [
            "/karokar.identity.v1.IdentityService/Unlisted", "/some.other.Service/Method", "/karokar.identity.v1.IdentityService/WhoAmI",
            "/karokar.identity.v1.IdentityService/Login", "/karokar.rpc.v1.DiagnosticsService/Echo",
        ]
        let credentials = [Metadata(), Metadata([("authorization", "Basic x")]), Metadata([("authorization", "Bearer not-a-token")])]
        for path in paths {
            for metadata in credentials {
                let full = await outcome(path, metadata: metadata)
                for prepared in [false, true] {
                    switch immediate(path, metadata: metadata, prepared: prepared) {
                    case .admitted:
                        #expect(full == nil, "\(path) \(metadata)")
                    case .refused(let code, let domainCode):
                        #expect(full?.code == code && full?.domainCode == domainCode, "\(path) \(metadata)")
                    case .deferred:
                        #expect(metadata.bytes(for: Metadata.Key.authorization) != nil, "\(path): nothing to verify, nothing to defer")
                    }
                }
            }
        }
    }

    @Test func aPathOutsideTheTableIsRefusedEvenWithoutCredentials() async {
        #expect(await outcome("/karokar.identity.v1.IdentityService/Unlisted")?.code == .permissionDenied)
        #expect(await outcome("/some.other.Service/Method")?.code == .permissionDenied)
    }

    @Test func nonPublicPathsNeedAToken() async {
        #expect(await outcome("/karokar.identity.v1.IdentityService/WhoAmI")?.domainCode == "MISSING_TOKEN")
        #expect(await outcome("/karokar.identity.v1.IdentityService/WhoAmI", metadata: Metadata([("authorization", "Basic x")]))?.code == .unauthenticated)
        #expect(await outcome("/karokar.identity.v1.IdentityService/Login") == nil, "public: the handler runs")
    }
}

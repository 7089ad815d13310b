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

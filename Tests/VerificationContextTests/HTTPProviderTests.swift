import Crypto
import Foundation
import KaroKarMessages
import KaroKarRPC
import KaroKarServer
import KaroKarTestSupport
import NIOCore
import Testing
@testable import VerificationContext

/// The HTTP provider against a live HTTP server on loopback (``ProviderStub``): the server asks
/// it after the submission commits, and its answer (or its failures, retried) decides.
@Suite("Verification: the HTTP provider against a live local server", .serialized)
struct HTTPProviderTests {
    /// A marketplace whose server knows the stub as provider `registry`.
    static func run(
        _ stub: ProviderStub, _ configure: @escaping @Sendable (inout HTTPProviderConfiguration) -> Void = { _ in },
        _ body: (VerificationWorld) async throws -> Void
    ) async throws {
        _ = try await stub.start()
        let url = stub.url
        do {
            try await TestMarketplace.run({ settings in
                var provider = HTTPProviderConfiguration(name: "registry", url: url)
                provider.authentication = .bearer("s3cret-token")
                provider.timeout = .seconds(2)
                provider.firstRetryDelay = .milliseconds(50)
                configure(&provider)
                settings.verification.httpProviders = [provider]
            }) { market in
                try await body(try await VerificationWorld.make(market))
            }
        } catch {
            await stub.stop()
            throw error
        }
        await stub.stop()
    }

    func submitExternal(_ world: VerificationWorld, _ type: VerificationV1.VerificationType = .insurance) async throws -> VerificationV1.Verification {
        let vehicle = try await world.vehicle()
        return try await world.submit(vehicle.id, type, method: .external, provider: "registry", expiresAt: fromNow(86_400 * 30))
    }

    @Test("approve: one authenticated JSON POST, the answer approves with the provider's reference and expiry")
    func approves() async throws {
        let stub = ProviderStub(fallback: .approve(reference: "REG-42", expiresAt: "2031-01-02T03:04:05Z"))
        try await Self.run(stub) { world in
            let providers = try await world.verifications.listVerificationProviders(.init(), options: world.vendor.admin.callOptions)
            #expect(providers.providers.map(\.name) == ["registry"] && providers.providers[0].supportedTypes == [.vehicleRegistration, .insurance, .fitnessCertificate])
            let submitted = try await submitExternal(world)
            #expect(submitted.status == .pending && submitted.provider?.value == "registry" && submitted.method == .external)
            let decided = try await world.waitFor(submitted.id) { $0.status != .pending }
            #expect(decided.status == .approved && decided.providerReference?.value == "REG-42")
            #expect(decided.reviewedBy == nil && decided.reviewedAt != nil)
            #expect(decided.expiresAt == CommonV1.Timestamp(seconds: 1_925_089_445))
            #expect(decided.history.map(\.decidedBy) == [world.vendor.admin.userID, "provider:registry"])
            let request = try #require(stub.requests.first)
            // One request (a second only if the first timed out on a loaded machine).
            #expect(stub.requests.count >= 1 && request.method == .POST && request.uri == "/verify")
            #expect(request.headers["authorization"] == ["Bearer s3cret-token"] && request.headers["idempotency-key"] == [submitted.id])
            let json = try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])
            #expect(json["verificationId"] as? String == submitted.id && json["type"] as? String == "INSURANCE")
            #expect(json["subjectType"] as? String == "VEHICLE" && json["organizationId"] as? String == world.vendor.id)
            #expect(try await world.events(of: submitted.id) == ["verification.submitted", "verification.approved"])
        }
    }

    @Test("reject: the provider's reason is kept")
    func rejects() async throws {
        let stub = ProviderStub(fallback: .reject("policy not found"))
        try await Self.run(stub) { world in
            let submitted = try await submitExternal(world)
            let decided = try await world.waitFor(submitted.id) { $0.status != .pending }
            #expect(decided.status == .rejected && decided.reviewNotes?.value == "policy not found" && decided.providerReference?.value == "ref-2")
            #expect(try await world.events(of: submitted.id) == ["verification.submitted", "verification.rejected"])
        }
    }

    @Test("slow: the first attempt times out, the retry is answered")
    func slowThenRetry() async throws {
        let stub = ProviderStub(script: [ProviderStub.Behaviour(body: "{\"decision\": \"REJECTED\"}", delay: .seconds(6))], fallback: .approve())
        try await Self.run(stub, { $0.timeout = .seconds(1) }) { world in
            let start = NIODeadline.now()
            let submitted = try await submitExternal(world)
            let decided = try await world.waitFor(submitted.id) { $0.status != .pending }
            // The late REJECTED never counted: the timed-out attempt was abandoned.
            #expect(decided.status == .approved)
            let requests = stub.requests
            #expect(requests.count >= 2)
            // The retry came after the first attempt's timeout and the backoff.
            if requests.count >= 2 { #expect(requests[1].receivedAt - start >= .milliseconds(1050)) }
        }
    }

    @Test("a slow provider holds no transaction and no pooled connection while it thinks")
    func slowProviderHoldsNothing() async throws {
        let stub = ProviderStub(script: [ProviderStub.Behaviour(body: "{\"decision\": \"APPROVED\"}", delay: .seconds(3))], fallback: .approve())
        try await Self.run(stub, { $0.timeout = .seconds(5); $0.attempts = 1 }) { world in
            let submitted = try await submitExternal(world)
            let deadline = Date().addingTimeInterval(15)
            while stub.requests.isEmpty, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(!stub.requests.isEmpty, "the provider was asked")
            try await Task.sleep(for: .milliseconds(1500))  // the provider is thinking
            // Asked inside a transaction, that transaction would be open since before the question.
            let open = try await world.market.pool.query("""
                SELECT count(*)::int AS n FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start < clock_timestamp() - interval '1200 milliseconds'
                """).single().decode(Int.self, "n")
            #expect(open == 0, "no transaction stays open while the provider thinks")
            #expect(try await world.get(submitted.id).status == .pending)
            let decided = try await world.waitFor(submitted.id) { $0.status != .pending }
            #expect(decided.status == .approved && stub.requests.count == 1)
            #expect(try await world.market.pool.query("SELECT 1 FROM verification.provider_requests").isEmpty, "the question is settled")
        }
    }

    @Test("500s: retried with backoff within one check, then answered")
    func serverErrors() async throws {
        let stub = ProviderStub(script: [.failure(.internalServerError), .failure(.serviceUnavailable)], fallback: .approve())
        try await Self.run(stub, { $0.attempts = 3 }) { world in
            let submitted = try await submitExternal(world)
            let decided = try await world.waitFor(submitted.id) { $0.status != .pending }
            #expect(decided.status == .approved && stub.requests.count >= 3)
            let requests = stub.requests
            if requests.count >= 3 {
                #expect(requests[1].receivedAt - requests[0].receivedAt >= .milliseconds(50))
                #expect(requests[2].receivedAt - requests[1].receivedAt >= .milliseconds(100))  // doubled
            }
        }
    }

    @Test("garbage bodies: the verification stays PENDING while the question is asked again; a fixed provider then decides, once")
    func garbage() async throws {
        let stub = ProviderStub(fallback: ProviderStub.Behaviour(body: "<html>gateway</html>"))
        try await Self.run(stub, { $0.attempts = 2 }) { world in
            let submitted = try await submitExternal(world)
            let deadline = Date().addingTimeInterval(20)
            while stub.requests.count < 4, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(stub.requests.count >= 4)  // two checks of two attempts: the question was asked again
            let waiting = try await world.get(submitted.id)
            #expect(waiting.status == .pending && waiting.history.count == 1)
            for body in ["{\"decision\": \"MAYBE\"}", "{\"decision\": \"APPROVED\", \"expiresAt\": \"yesterday\"}", "[1, 2]"] {
                #expect(throws: ProviderFailure.self, "\(body)") { try HTTPVerificationProvider.decode(Array(body.utf8)) }
            }
            stub.answer(.approve(reference: "late"))
            let decided = try await world.waitFor(submitted.id) { $0.status != .pending }
            #expect(decided.status == .approved && decided.providerReference?.value == "late")
            #expect(try await world.events(of: submitted.id) == ["verification.submitted", "verification.approved"])
        }
    }

    @Test("HMAC: the signature covers the timestamp and the body under the shared secret")
    func hmacSignature() async throws {
        let stub = ProviderStub(fallback: .approve())
        try await Self.run(stub, { $0.authentication = .hmac("hmac-shared-secret") }) { world in
            let submitted = try await submitExternal(world, .vehicleRegistration)
            #expect(try await world.waitFor(submitted.id) { $0.status != .pending }.status == .approved)
            let request = try #require(stub.requests.first)
            let timestamp = try #require(request.headers["x-karokar-timestamp"].first)
            let signed = Array(timestamp.utf8) + [UInt8(ascii: ".")] + request.body
            let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Array("hmac-shared-secret".utf8)))
            let hex = mac.map { String(format: "%02x", $0) }.joined()
            #expect(request.headers["x-karokar-signature"] == ["v1=\(hex)"] && request.headers["authorization"].isEmpty)
        }
    }

    @Test("a reviewer may decide first: the provider's later answer is ignored")
    func reviewerFirst() async throws {
        let stub = ProviderStub(script: [ProviderStub.Behaviour(body: "{\"decision\": \"APPROVED\"}", delay: .milliseconds(1500))])
        // The provider answers 1.5 s after it is asked: the reviewer's rejection comes first even on
        // a loaded machine (400 ms was not always enough beside the other suites).
        try await Self.run(stub, { $0.timeout = .seconds(4) }) { world in
            let submitted = try await submitExternal(world)
            let rejected = try await world.reject(submitted.id, "forged certificate")
            #expect(rejected.status == .rejected)
            let deadline = Date().addingTimeInterval(10)
            while stub.requests.isEmpty, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            try await Task.sleep(for: .seconds(2.5))  // past the provider's answer
            #expect(try await world.get(submitted.id).status == .rejected)
            #expect(try await world.events(of: submitted.id) == ["verification.submitted", "verification.rejected"])
        }
    }
}

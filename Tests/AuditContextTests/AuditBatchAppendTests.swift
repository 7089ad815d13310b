@testable import AuditContext
import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarTestSupport
import Testing

/// ``AuditStore/append(_:_:recordedAt:)``: a batch is appended in order under one lock, events
/// recorded already (a re-read) or twice in the batch are skipped, the chain stays gapless and
/// verifiable (the hashes computed by the appender, recomputed by the database's VerifyChain,
/// non-ASCII text included), and an actor or tenant left empty is stored as absent.
@Suite("Audit: batch appends")
struct AuditBatchAppendTests {
    static func record(_ eventID: UUID, actor: String? = "u-1", organization: UUID? = UUID.random()) -> AuditStore.NewRecord {
        AuditStore.NewRecord(
            eventID: eventID, eventType: "vehicle.registered", entityType: "vehicle", entityID: "v-\(eventID.lowercasedString.prefix(4))-Škoda ✓ 日本",
            actorID: actor, actorType: actor == nil ? .system : .user, organizationID: organization,
            occurredAt: Instant(microseconds: 1_800_000_000_123_456), correlationID: "batch \"quoted\" \\ slash",
            payload: [0, 1, 2, 0x5c, 0x22, 255]
        )
    }

    @Test("in order, once each, gapless and verifiable; redeliveries and in-batch duplicates skipped")
    func appendsOnce() async throws {
        let (app, superuser) = try await applicationDatabase()
        let bus = EventBus(pool: app)
        let audit = Audit(environment: environment(bus))
        let first = (0..<5).map { _ in UUID.random() }
        try await bus.transaction(.system()) { work in
            try await AuditStore.append(first.map { Self.record($0) } + [Self.record(first[1])], work, recordedAt: SystemClock().now())  // a duplicate in the batch
        }
        let again = [first[0], UUID.random(), first[4], UUID.random()]
        try await bus.transaction(.system()) { work in
            try await AuditStore.append(
                [Self.record(again[0]), Self.record(again[1], actor: nil, organization: nil), Self.record(again[2]), Self.record(again[3])], work,
                recordedAt: SystemClock().now()
            )
        }
        let rows = try await app.query("SELECT event_id, sequence, actor_id, organization_id, correlation_id, payload FROM audit.records ORDER BY sequence")
        let ids = try rows.map { try $0.decode(UUID.self, "event_id") }
        #expect(ids == first + [again[1], again[3]], "in order, each once")
        #expect(try rows.map { try $0.decode(Int64.self, "sequence") } == Array(1...7))
        #expect(try rows[5].decode(String?.self, "actor_id") == nil && rows[5].decode(UUID?.self, "organization_id") == nil, "empty is absent")
        #expect(try rows[0].decode(String.self, "correlation_id") == "batch \"quoted\" \\ slash")
        #expect(try rows[0].decode(PostgresBytes.self, "payload").bytes == [0, 1, 2, 0x5c, 0x22, 255])
        let chain = try await audit.verifyChain(from: nil, to: nil, .system())
        #expect(chain.intact && chain.recordsChecked == 7, "\(chain)")
        await app.close()
        await superuser.close()
    }
}

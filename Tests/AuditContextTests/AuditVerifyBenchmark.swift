@testable import AuditContext
import Foundation
import KaroKarKernel
import KaroKarPostgres
import KaroKarTestSupport
import Testing

/// `VerifyChain` over a long chain, timed (opt in: KAROKAR_AUDIT_VERIFY_RECORDS=1000000). The
/// records are written straight into the chain (as `audit.append` would, without an event per
/// record), then the whole chain is recomputed as `VerifyChain` does.
@Suite("Audit: VerifyChain over a long chain (opt in)")
struct AuditVerifyBenchmark {
    static let records = Int(ProcessInfo.processInfo.environment["KAROKAR_AUDIT_VERIFY_RECORDS"] ?? "") ?? 0

    @Test(.enabled(if: records > 0)) func verifyALongChain() async throws {
        let (app, superuser) = try await applicationDatabase()
        let written = ContinuousClock.now
        // A DO block takes no bind parameters: the count is spelled into it (a number, not input).
        try await app.query(SQL(stringLiteral: """
            DO $$
            DECLARE
                h bytea := '\\x0000000000000000000000000000000000000000000000000000000000000000';
                v_id uuid; v_event uuid; v_at timestamptz;
            BEGIN
                FOR i IN 1..\(Self.records) LOOP
                    v_id := gen_random_uuid(); v_event := gen_random_uuid(); v_at := date_trunc('microseconds', clock_timestamp());
                    INSERT INTO audit.records VALUES (v_id, i, v_event, 'vehicle.registered', 'vehicle', i::text, NULL, 'SYSTEM', NULL,
                        v_at, v_at, 'bench', '\\x0a0b0c', h,
                        audit.record_hash(h, i, v_id, v_event, 'vehicle.registered', 'vehicle', i::text, NULL, 'SYSTEM', NULL,
                                          v_at, v_at, 'bench', '\\x0a0b0c'));
                    h := audit.record_hash(h, i, v_id, v_event, 'vehicle.registered', 'vehicle', i::text, NULL, 'SYSTEM', NULL,
                                           v_at, v_at, 'bench', '\\x0a0b0c');
                END LOOP;
                UPDATE audit.chain_head SET last_sequence = \(Self.records), last_hash = h;
            END $$
            """))
        let writing = ContinuousClock.now - written
        let bus = EventBus(pool: app)
        let audit = Audit(environment: environment(bus))
        let started = ContinuousClock.now
        let report = try await audit.verifyChain(from: nil, to: nil, .system())
        let elapsed = ContinuousClock.now - started
        print("VerifyChain over \(Self.records) records: \(elapsed) (writing them: \(writing)); intact: \(report.intact)")
        #expect(report.intact && report.recordsChecked == Int64(Self.records))
        await app.close()
        await superuser.close()
    }
}

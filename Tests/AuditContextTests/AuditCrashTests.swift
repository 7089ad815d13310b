import Foundation
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import Testing

/// `kill -9` of a real server process while writes are acknowledged: after a restart, every
/// acknowledged write has its audit record, and the chain is intact.
@Suite("Audit: a killed server loses no audit record of an acknowledged write")
struct AuditCrashTests {
    @Test func killedMidLoadThenRestarted() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        _ = try await MigrationRunner.migrate(Database.migrations, pool: pool)
        let url = pool.configuration.connectionString
        var server = try await ServerProcess.start(databaseURL: url)
        var client = server.client()
        let identity = IdentityV1.IdentityService.Client(client)
        let tag = UUID().uuidString.prefix(6).lowercased()
        let registered = try await identity.registerOrganization(IdentityV1.RegisterOrganizationRequest(
            organizationName: "Crash \(tag)", organizationType: .vendor, metadata: ["region": "IN-KA"], adminFirstName: "Asha",
            adminLastName: "Rao", adminEmail: "crash-\(tag)@example.com", adminPassword: TestMarketplace.password
        ))
        let platform = try await identity.signIn(TestIdentity.adminEmail, TestIdentity.adminPassword)
        _ = try await AdministrationV1.AdministrationService.Client(client).approveOrganization(
            .init(organizationId: registered.organization!.id), options: platform.callOptions
        )
        let vendor = try await identity.signIn("crash-\(tag)@example.com")
        let fleet = FleetV1.FleetService.Client(client)
        let acknowledged = LockedStrings()
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        for n in 0..<10_000 {
                            guard let vehicle = try? await fleet.registerVehicle(.init(
                                ownershipType: .vendorOwned, make: "Tata", model: "Nexon", year: 2024, licensePlate: "KA\(tag)\(writer)X\(n)"
                            ), options: vendor.callOptions).vehicle else { return }
                            acknowledged.append(vehicle.id)
                        }
                    }
                }
            }
        }
        // Let writes flow, then kill the server in the middle of them.
        let started = ContinuousClock.now
        while acknowledged.all.count < 40, ContinuousClock.now - started < .seconds(60) {
            try await Task.sleep(for: .milliseconds(20))
        }
        await server.killNow()
        await load.value
        await client.close()
        let acked = acknowledged.all
        #expect(acked.count >= 40)

        server = try await ServerProcess.start(databaseURL: url)
        client = server.client()
        let deadline = ContinuousClock.now
        var missing = acked.count
        while ContinuousClock.now - deadline < .seconds(60) {
            missing = try await pool.query("""
                SELECT count(*)::int AS n FROM unnest(\(acked)::text[]) AS v(id)
                WHERE NOT EXISTS (SELECT 1 FROM audit.records AS r WHERE r.event_type = 'vehicle.registered' AND r.entity_id = v.id)
                """).single().decode(Int.self, "n")
            if missing == 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(missing == 0, "every acknowledged registration has its audit record\n\(server.log.suffix(2000))")
        #expect(try await pool.query("""
            SELECT count(*)::int AS n FROM audit.records WHERE event_type = 'vehicle.registered' GROUP BY entity_id HAVING count(*) > 1
            """).isEmpty, "once each")
        #expect(try await pool.query("SELECT * FROM audit.first_broken(1, (SELECT last_sequence FROM audit.chain_head))").isEmpty, "the chain holds")
        await client.close()
        await server.stop()
        await pool.close()
    }
}

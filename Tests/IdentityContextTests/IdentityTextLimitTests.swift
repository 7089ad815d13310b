import Foundation
import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Issue 19, finding 9, for Identity's columns: limits in code points, as the `CHECK`s count
/// them (a name of 51 decomposed "é" is 102 code points: TOO_LONG, not INTERNAL), e-mails
/// measured after lowering, NUL refused naming the field.
@Suite("Identity: text limits in code points, NUL refused", .serialized)
struct IdentityTextLimitTests {
    static let checked = [
        "identity.organizations.name": 200, "identity.users.first_name": 100, "identity.users.last_name": 100,
        "identity.users.email": 254, "identity.service_accounts.name": 100,
    ]

    @Test("every CHECKed text column of Identity's migrations is exercised here, with its limit")
    func checksAreCovered() {
        #expect(SourceTree.textLengthChecks(under: "Sources/IdentityContext") == Self.checked)
    }

    @Test("organization, person and service account names: the limit in code points, whatever the characters and bytes")
    func names() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let role = try await market.roleID("VENDOR_STAFF", type: .vendor)
            let options = vendor.admin.callOptions
            func user(first: String = "Ravi", last: String = "Kumar") async throws -> IdentityV1.User {
                try await market.identity.createUser(.init(
                    firstName: first, lastName: last, email: "u-\(UUID().uuidString.prefix(8))@example.com", password: TestMarketplace.password, roleId: role
                ), options: options).user!
            }
            let fields: [(String, String, Int, (String) async throws -> String)] = [
                ("identity.organizations.name", "organizationName", 200, { try await market.register(.corporate, name: $0).organization!.name }),
                ("identity.users.first_name", "firstName", 100, { try await user(first: $0).firstName }),
                ("identity.users.last_name", "lastName", 100, { try await user(last: $0).lastName }),
                ("identity.service_accounts.name", "name", 100, {
                    try await market.identity.createServiceAccount(.init(name: $0, permissions: ["vehicle.read"]), options: options).serviceAccount!.name
                }),
            ]
            for (column, field, limit, send) in fields {
                try await expectTextLimit(field, of: column, limit: limit, pool: market.pool, schemas: ["identity"], send: send)
            }
            await expectViolation("adminFirstName", "TOO_LONG") {
                _ = try await market.identity.registerOrganization(.init(
                    organizationName: "Decomposed", organizationType: .vendor, adminFirstName: TextSamples.decomposed(codePoints: 101),
                    adminLastName: "Rao", adminEmail: "decomposed@example.com", adminPassword: TestMarketplace.password
                ))
            }
        }
    }

    @Test("e-mails: 254 code points as stored, that is after lowering (İ lowers to two)")
    func emails() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let role = try await market.roleID("VENDOR_STAFF", type: .vendor)
            func create(_ email: String) async throws -> String {
                try await market.identity.createUser(.init(
                    firstName: "Ravi", lastName: "Kumar", email: email, password: TestMarketplace.password, roleId: role
                ), options: vendor.admin.callOptions).user!.email
            }
            let accepted = [
                "a@" + TextSamples.ascii(248) + ".com", "b@" + TextSamples.decomposed(codePoints: 248) + ".com",
                "c@" + TextSamples.astral(248) + ".com", "d@" + String(repeating: "\u{130}", count: 124) + ".com",
            ]
            for email in accepted {
                #expect(try await create(email).unicodeScalars.elementsEqual(email.lowercased().unicodeScalars))
            }
            let (before, published) = (try await TableSnapshot.take(market.pool, schemas: ["identity"]), try await publishedEvents(market.pool))
            let refused = [
                "a@" + TextSamples.ascii(249) + ".com", "b@" + TextSamples.decomposed(codePoints: 249) + ".com",
                "c@" + TextSamples.astral(249) + ".com", "d@" + String(repeating: "\u{130}", count: 200) + ".com",
            ]
            for email in refused {
                await expectViolation("email", "TOO_LONG") { _ = try await create(email) }
            }
            #expect(try await TableSnapshot.take(market.pool, schemas: ["identity"]) == before)
            #expect(try await publishedEvents(market.pool) == published)
        }
    }

    @Test("a NUL in a name or a metadata value is INVALID_ARGUMENT naming the field; nothing is registered")
    func nul() async throws {
        try await TestMarketplace.run { market in
            let (before, published) = (try await TableSnapshot.take(market.pool, schemas: ["identity"]), try await publishedEvents(market.pool))
            let request = IdentityV1.RegisterOrganizationRequest(
                organizationName: "Nul Motors", organizationType: .vendor, metadata: ["region": "IN-KA"], adminFirstName: "x",
                adminLastName: "Rao", adminEmail: "nul@example.com", adminPassword: TestMarketplace.password
            )
            let path = IdentityV1.IdentityService.Method.registerOrganization.path
            await expectViolation("adminFirstName", "MALFORMED") {
                _ = try await market.client.call(path: path, payload: WireBytes.replacing(request, field: 4, with: Array("As\0ha".utf8)), options: CallOptions())
            }
            var withoutMetadata = request
            withoutMetadata.metadata = [:]
            let entry = WireBytes.field(1, Array("region".utf8)) + WireBytes.field(2, Array("IN\0KA".utf8))
            await expectViolation("metadata[0].value", "MALFORMED") {
                _ = try await market.client.call(path: path, payload: ProtoCodec.encode(withoutMetadata) + WireBytes.field(3, entry), options: CallOptions())
            }
            #expect(try await TableSnapshot.take(market.pool, schemas: ["identity"]) == before)
            #expect(try await publishedEvents(market.pool) == published)
        }
    }
}

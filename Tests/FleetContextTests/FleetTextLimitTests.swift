import Foundation
import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Issue 19, finding 9: one rule for text lengths. Validation counts code points, as the
/// database's `CHECK`s (`char_length`) do, so a value one code point over a limit is INVALID_ARGUMENT
/// / TOO_LONG however few characters it looks like (it was INTERNAL, 23514, when validation counted
/// characters), and one at the limit is stored exactly, however many bytes it takes. A NUL is
/// refused, naming the field (protobuf-c used to cut the string there, silently).
@Suite("Fleet: text limits in code points, NUL refused", .serialized)
struct FleetTextLimitTests {
    /// Every `CHECK`ed text column of Fleet, and the limit its validation must have.
    static let schemas = ["fleet"]
    static let checked = ["fleet.vehicle.make": 100, "fleet.vehicle.model": 100, "fleet.maintenance.reason": 500, "fleet.block.reason": 500, "fleet.document.number": 100]

    @Test("every CHECKed text column of Fleet's migrations is exercised here, with its limit")
    func checksAreCovered() {
        #expect(SourceTree.textLengthChecks(under: "Sources/FleetContext") == Self.checked)
    }

    @Test("make, model, maintenance and block reasons, document numbers: the limit in code points, whatever the characters and bytes")
    func limits() async throws {
        try await withVendor { market, fleet, options in
            let vehicle = try await registered(fleet, options).id
            try await market.verifyVehicle(vehicle, ownerOptions: options)
            _ = try await fleet.activateVehicle(.init(vehicleId: vehicle), options: options)
            var day = 0.0
            func nextPeriod() -> CommonV1.Period {
                day += 2
                return period(day, day + 1)
            }
            let fields: [(String, String, Int, (String) async throws -> String)] = [
                ("fleet.vehicle.make", "make", 100, { try await registered(fleet, options, make: $0).make }),
                ("fleet.vehicle.model", "model", 100, { try await registered(fleet, options, model: $0).model }),
                ("fleet.maintenance.reason", "reason", 500, {
                    try await fleet.scheduleMaintenance(.init(vehicleId: vehicle, period: nextPeriod(), reason: $0), options: options).maintenance!.reason
                }),
                ("fleet.block.reason", "reason", 500, {
                    try await fleet.placeBlock(.init(vehicleId: vehicle, period: nextPeriod(), reason: $0), options: options).block!.reason
                }),
                ("fleet.document.number", "number", 100, {
                    try await fleet.addVehicleDocument(.init(
                        vehicleId: vehicle, type: .other, number: $0, issuedAt: CommonV1.Timestamp(seconds: 1_800_000_000)
                    ), options: options).document!.number
                }),
            ]
            #expect(Dictionary(uniqueKeysWithValues: fields.map { ($0.0, $0.2) }) == Self.checked)
            for (column, field, limit, send) in fields {
                try await expectTextLimit(field, of: column, limit: limit, pool: market.pool, schemas: Self.schemas, send: send)
            }
        }
    }

    @Test("a NUL inside a string is INVALID_ARGUMENT naming the field, top-level or nested, and nothing is written")
    func nul() async throws {
        try await withVendor { market, fleet, options in
            let vehicle = try await registered(fleet, options)
            let (before, published) = (try await TableSnapshot.take(market.pool, schemas: Self.schemas), try await publishedEvents(market.pool))
            let toyota = Array("Toy".utf8) + [0] + Array("ota".utf8)

            let register = FleetV1.RegisterVehicleRequest(ownershipType: .vendorOwned, make: "x", model: "Etios", year: 2020, licensePlate: "KA01NUL1")
            await expectViolation("make", "MALFORMED") {
                _ = try await market.client.call(
                    path: FleetV1.FleetService.Method.registerVehicle.path,
                    payload: WireBytes.replacing(register, field: 2, with: toyota), options: options
                )
            }
            let update = FleetV1.UpdateVehicleDetailsRequest(vehicleId: vehicle.id)
            await expectViolation("make.value", "MALFORMED") {
                _ = try await market.client.call(
                    path: FleetV1.FleetService.Method.updateVehicleDetails.path,
                    payload: ProtoCodec.encode(update) + WireBytes.field(2, WireBytes.field(1, toyota)), options: options
                )
            }
            #expect(try await TableSnapshot.take(market.pool, schemas: Self.schemas) == before)
            #expect(try await publishedEvents(market.pool) == published)
            #expect(try await fleet.getVehicle(.init(vehicleId: vehicle.id), options: options).vehicle?.make == "Tata")
        }
    }

    @Test("a string field that is not UTF-8 (a lone surrogate, a stray continuation byte) is INVALID_ARGUMENT / MALFORMED_PAYLOAD; the server stays up")
    func invalidUTF8() async throws {
        try await withVendor { market, fleet, options in
            let register = FleetV1.RegisterVehicleRequest(ownershipType: .vendorOwned, make: "x", model: "Etios", year: 2020, licensePlate: "KA01UTF8")
            for bytes: [UInt8] in [[0xED, 0xA0, 0x80], [0x41, 0x80], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80], [0xFF]] {
                await expectCode(.invalidArgument, domainCode: "MALFORMED_PAYLOAD") {
                    _ = try await market.client.call(
                        path: FleetV1.FleetService.Method.registerVehicle.path,
                        payload: WireBytes.replacing(register, field: 2, with: bytes), options: options
                    )
                }
            }
            let listed = try await fleet.listFleet(.init(), options: options)
            #expect(listed.vehicles.isEmpty, "nothing was registered")
        }
    }
}

/// A fresh marketplace with an onboarded vendor: its Fleet client and its administrator's options.
private func withVendor(_ body: (TestMarketplace, FleetV1.FleetService.Client, CallOptions) async throws -> Void) async throws {
    try await TestMarketplace.run { market in
        let vendor = try await market.onboard(.vendor)
        try await body(market, FleetV1.FleetService.Client(market.client), vendor.admin.callOptions)
    }
}

private func registered(
    _ fleet: FleetV1.FleetService.Client, _ options: CallOptions, make: String = "Tata", model: String = "Nexon"
) async throws -> FleetV1.Vehicle {
    try await fleet.registerVehicle(.init(
        ownershipType: .vendorOwned, make: make, model: model, year: 2024, licensePlate: "KA\(UUID().uuidString.prefix(8))"
    ), options: options).vehicle!
}

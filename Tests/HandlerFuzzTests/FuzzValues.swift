import Foundation
import KaroKarProto
import KaroKarTestSupport

/// Protobuf wire encoding, written by hand so the fuzzer can send what no generated encoder would
/// (unknown enum numbers, invalid UTF-8, out-of-range timestamps).
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func tag(_ number: Int32, _ wire: UInt64) { varint(UInt64(number) << 3 | wire) }

    mutating func field(_ number: Int32, varint value: UInt64) {
        tag(number, 0)
        varint(value)
    }

    mutating func field(_ number: Int32, bytes value: [UInt8]) {
        tag(number, 2)
        varint(UInt64(value.count))
        bytes += value
    }
}

/// What the fuzzer knows about the world: ids of the victim's and the attacker's entities, and
/// page tokens a real list handed out.
struct FuzzPools: Sendable {
    var ids: [String]
    var pageTokens: [String]
    var emails: [String]
}

/// Hostile values per protobuf type.
enum FuzzValues {
    static let int64Ends: [Int64] = [0, 1, -1, .max, .min, .max - 1, 1 << 53, -(1 << 53), 253_402_300_800, -62_135_596_801, -2_208_988_801]
    static let uint64Ends: [UInt64] = [0, 1, .max, UInt64(Int64.max), UInt64(Int64.max) + 1, UInt64(UInt32.max) + 1]
    static let int32Ends: [Int32] = [0, 1, -1, .max, .min, 1899, 1900, 2100, 2101, 999_999_999, 1_000_000_000]

    /// The boundaries of every text limit the contexts use (100, 200, 254, 500, 2000), in
    /// characters, code points and bytes, and what PostgreSQL text cannot hold.
    static let boundaryStrings: [[UInt8]] = {
        var texts: [String] = []
        for limit in [100, 200, 254, 500, 2000] {
            texts += [String(repeating: "a", count: limit + 1), String(repeating: "e\u{301}", count: limit / 2 + 1),
                      String(repeating: "\u{1F697}", count: limit / 4 + 1)]
        }
        texts += ["", "a\u{0}b", " \u{7}bell "]
        return texts.map { Array($0.utf8) } + [[0xC3, 0x28]]
    }()

    /// Strings at and past the limits, counted in bytes, code points and characters.
    static func strings(_ pools: FuzzPools) -> [[UInt8]] {
        let texts: [String] = [
            "", " ", "a", String(repeating: "a", count: 100), String(repeating: "a", count: 101), String(repeating: "a", count: 200),
            String(repeating: "a", count: 201), String(repeating: "a", count: 500), String(repeating: "a", count: 501),
            String(repeating: "a", count: 2001), String(repeating: "e\u{301}", count: 100), String(repeating: "e\u{301}", count: 60),
            String(repeating: "\u{1F697}", count: 100), String(repeating: "\u{1F697}", count: 101), "a\u{0}b", "\u{0}",
            "\u{202E}evil", "'; DROP TABLE identity.users; --", "%_\\", "\u{FEFF}", "\t\n\r", "MH12AB1234", "mh 12 ab 1234",
            "x@y", "a@b.co", String(repeating: "a", count: 250) + "@example.com", "+919876543210", "VENDOR_ADMIN", "vehicle.read",
            "00000000-0000-0000-0000-000000000000", "6F1C2E2A-0000-4000-8000-000000000000", "not-a-uuid",
        ]
        var values = texts.map { Array($0.utf8) }
        values += [[0xFF, 0xFE], [0xC3], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80]]  // invalid UTF-8
        values += pools.ids.map { Array($0.utf8) } + pools.pageTokens.map { Array($0.utf8) } + pools.emails.map { Array($0.utf8) }
        return values
    }

    /// Values for a string field, biased by what its name says it holds.
    static func string(for field: ProtoFieldSchema, _ pools: FuzzPools, _ random: inout SeededGenerator) -> [UInt8] {
        let name = field.name
        if name.hasSuffix("_id") || name == "id", Bool.random(using: &random) { return Array(pools.ids.randomElement(using: &random)!.utf8) }
        if name == "page_token", !pools.pageTokens.isEmpty, Bool.random(using: &random) {
            return Array(pools.pageTokens.randomElement(using: &random)!.utf8)
        }
        if name.contains("email"), Bool.random(using: &random) { return Array(pools.emails.randomElement(using: &random)!.utf8) }
        return strings(pools).randomElement(using: &random)!
    }
}

extension FuzzValues {
    /// A value that passes validation for a field of this name, so that the hostile one beside
    /// it reaches the rules and the database.
    static func plausibleString(_ name: String, _ own: OwnIDs, _ pools: FuzzPools, _ random: inout SeededGenerator) -> [UInt8] {
        let tag = String(UInt32.random(in: 0...UInt32.max, using: &random), radix: 36)
        let text: String
        switch name {
        case _ where own.id(for: name) != nil && (!own.id(for: name)!.isEmpty || Bool.random(using: &random)): text = own.id(for: name)!
        case _ where name.hasSuffix("_id") || name == "id": text = pools.ids.randomElement(using: &random)!
        case _ where name.contains("email"): text = "fuzz-\(tag)@example.com"
        case _ where name.contains("password") || name == "secret": text = "correct horse battery staple"
        case "license_plate": text = "KA\(Int.random(in: 10...99, using: &random))FZ\(Int.random(in: 1000...9999, using: &random))"
        case "page_token": text = ""
        case _ where name.contains("phone"): text = "+91987654\(Int.random(in: 1000...9999, using: &random))"
        case _ where name.hasSuffix("_name") || name == "name" || name == "make" || name == "model": text = "Fuzz \(tag)"
        default: text = "fuzz \(tag)"
        }
        return Array(text.utf8)
    }

    static func plausibleNumber(_ name: String) -> UInt64 {
        switch name {
        case "year": 2024
        case "page_size": 10
        case _ where name.contains("version"): 1
        default: 1
        }
    }

    /// An instant in the coming weeks (an end after its start).
    static func plausibleTimestamp(_ name: String, _ random: inout SeededGenerator) -> [UInt8] {
        let now = Int64(Date().timeIntervalSince1970)
        let day: Int64 = 86_400
        let offset = name.contains("end") || name.contains("before") || name.contains("expires") ? 20 * day : 2 * day
        var writer = ProtoWriter()
        writer.field(1, varint: UInt64(now + offset + Int64.random(in: 0...(3 * day), using: &random)))
        return writer.bytes
    }

    /// Instants at and past what PostgreSQL and the business rules accept, with bad nanos.
    static func hostileTimestamp(_ random: inout SeededGenerator) -> [UInt8] {
        var writer = ProtoWriter()
        let now = Int64(Date().timeIntervalSince1970)
        let seconds: [Int64] = int64Ends + [now, now - 86_400, now + 86_400 * 4000, -210_866_803_200, 9_224_286_393_600]
        writer.field(1, varint: UInt64(bitPattern: seconds.randomElement(using: &random)!))
        let nanos: [Int64] = [0, 999_999_999, 1_000_000_000, -1, Int64(Int32.min)]
        writer.field(2, varint: UInt64(bitPattern: nanos.randomElement(using: &random)!))
        return writer.bytes
    }
}

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

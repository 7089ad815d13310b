import Foundation
import KaroKarMessages
import KaroKarProto
import KaroKarTestSupport

/// A request of a given type built from its schema with hostile values in every field: every
/// field present (one of each oneof at random), repeated fields empty, one or several elements,
/// nested messages down to a bounded depth, timestamps at and past PostgreSQL's range.
struct FuzzRequest {
    let pools: FuzzPools

    func make(_ typeName: String, _ random: inout SeededGenerator, depth: Int = 0) -> [UInt8] {
        guard let type = ProtoRegistry.messages[typeName], depth < 5 else { return [] }
        if typeName == "karokar.common.v1.Timestamp" { return timestamp(&random) }
        var writer = ProtoWriter()
        let oneofs = Dictionary(grouping: type.protoSchema.fields.filter { !$0.oneof.isEmpty }, by: \.oneof)
        let chosen = Set(oneofs.values.compactMap { $0.randomElement(using: &random)?.number })
        for field in type.protoSchema.fields {
            guard field.oneof.isEmpty || chosen.contains(field.number) else { continue }
            guard Int.random(in: 0..<8, using: &random) > 0 else { continue }  // sometimes absent
            let count = field.repeated ? [0, 1, 3, 40].randomElement(using: &random)! : 1
            for _ in 0..<count { write(field, into: &writer, &random, depth: depth) }
        }
        return writer.bytes
    }

    private func write(_ field: ProtoFieldSchema, into writer: inout ProtoWriter, _ random: inout SeededGenerator, depth: Int) {
        if field.map {
            var entry = ProtoWriter()
            entry.field(1, bytes: FuzzValues.string(for: field, pools, &random))
            value(field, number: 2, into: &entry, &random, depth: depth)
            writer.field(field.number, bytes: entry.bytes)
        } else {
            value(field, number: field.number, into: &writer, &random, depth: depth)
        }
    }

    private func value(_ field: ProtoFieldSchema, number: Int32, into writer: inout ProtoWriter, _ random: inout SeededGenerator, depth: Int) {
        switch field.type {
        case "string", "bytes": writer.field(number, bytes: FuzzValues.string(for: field, pools, &random))
        case "message": writer.field(number, bytes: make(field.typeName, &random, depth: depth + 1))
        case "bool": writer.field(number, varint: UInt64.random(in: 0...2, using: &random))
        case "uint32", "uint64": writer.field(number, varint: FuzzValues.uint64Ends.randomElement(using: &random)!)
        case "int32": writer.field(number, varint: UInt64(bitPattern: Int64(FuzzValues.int32Ends.randomElement(using: &random)!)))
        case "enum": writer.field(number, varint: UInt64(bitPattern: Int64([0, 1, 2, 3, 4, 5, 9, 99, -1, Int64(Int32.max)].randomElement(using: &random)!)))
        default: writer.field(number, varint: UInt64(bitPattern: FuzzValues.int64Ends.randomElement(using: &random)!))
        }
    }

    /// Instants at and past what PostgreSQL and the business rules accept, with bad nanos.
    private func timestamp(_ random: inout SeededGenerator) -> [UInt8] {
        var writer = ProtoWriter()
        let now = Int64(Date().timeIntervalSince1970)
        let seconds: [Int64] = FuzzValues.int64Ends + [now, now + 86_400, now - 86_400, now + 86_400 * 400, -210_866_803_200, 9_224_286_393_600]
        writer.field(1, varint: UInt64(bitPattern: seconds.randomElement(using: &random)!))
        let nanos: [Int64] = [0, 999_999_999, 1_000_000_000, -1, Int64(Int32.min)]
        writer.field(2, varint: UInt64(bitPattern: nanos.randomElement(using: &random)!))
        return writer.bytes
    }
}

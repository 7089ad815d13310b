import Foundation
import KaroKarMessages
import KaroKarProto
import KaroKarTestSupport

/// A request of a given type built from its schema: a plausible request (ids from the pools,
/// sensible names, plates, instants and sizes, so that it gets past validation and reaches the
/// handler's rules and the database), with hostile values put into one or two fields at random
/// (each field of the tree alike, nested ones too) and, now and then, fields left out.
struct FuzzRequest {
    let pools: FuzzPools
    /// The caller's own ids, for plausible id fields.
    var own = OwnIDs()

    func make(_ typeName: String, _ random: inout SeededGenerator) -> [UInt8] {
        let fields = Self.fieldCount(typeName)
        return message(typeName, &random, hostility: min(1, 1.5 / Double(max(fields, 1))), depth: 0)
    }

    /// A plausible request whose string field at `path` (names from the top) holds `value`.
    func make(_ typeName: String, _ random: inout SeededGenerator, setting path: [String], to value: [UInt8]) -> [UInt8] {
        message(typeName, &random, hostility: 0, depth: 0, target: (path, value))
    }

    /// Paths of the string fields of `typeName`, nested messages included (not timestamps).
    static func stringPaths(_ typeName: String, depth: Int = 0) -> [[String]] {
        guard let type = ProtoRegistry.messages[typeName], depth < 3 else { return [] }
        return type.protoSchema.fields.flatMap { field -> [[String]] in
            if field.type == "string", !field.map { return [[field.name]] }
            guard field.type == "message", field.typeName != "karokar.common.v1.Timestamp" else { return [] }
            return stringPaths(field.typeName, depth: depth + 1).map { [field.name] + $0 }
        }
    }

    /// Fields in the tree of `typeName` (one level of each nested message per field).
    static func fieldCount(_ typeName: String, depth: Int = 0) -> Int {
        guard let type = ProtoRegistry.messages[typeName], depth < 5 else { return 0 }
        return type.protoSchema.fields.reduce(0) { $0 + 1 + ($1.type == "message" ? fieldCount($1.typeName, depth: depth + 1) : 0) }
    }

    private func message(
        _ typeName: String, _ random: inout SeededGenerator, hostility: Double, depth: Int, target: ([String], [UInt8])? = nil
    ) -> [UInt8] {
        guard let type = ProtoRegistry.messages[typeName], depth < 5 else { return [] }
        var writer = ProtoWriter()
        let oneofs = Dictionary(grouping: type.protoSchema.fields.filter { !$0.oneof.isEmpty }, by: \.oneof)
        let chosen = Set(oneofs.values.compactMap { $0.randomElement(using: &random)?.number })
        let targeted = target.flatMap { target in type.protoSchema.fields.first { $0.name == target.0.first } }
        for field in type.protoSchema.fields {
            if let (path, value) = target, field.name == targeted?.name {
                let bytes = path.count == 1
                    ? value : message(field.typeName, &random, hostility: 0, depth: depth + 1, target: (Array(path.dropFirst()), value))
                writer.field(field.number, bytes: bytes)
                continue
            }
            if !field.oneof.isEmpty {
                // A targeted field takes its oneof; otherwise one member of each, at random.
                guard targeted?.oneof != field.oneof, chosen.contains(field.number) else { continue }
            }
            guard Double.random(in: 0..<1, using: &random) >= hostility / 3 else { continue }  // sometimes absent
            let hostile = Double.random(in: 0..<1, using: &random) < hostility
            let count = !field.repeated ? 1 : hostile ? [0, 2, 40].randomElement(using: &random)! : 1
            for _ in 0..<count {
                if field.map {
                    var entry = ProtoWriter()
                    entry.field(1, bytes: hostile ? FuzzValues.string(for: field, pools, &random) : Array("region".utf8))
                    value(field, number: 2, hostile: hostile, hostility: hostility, into: &entry, &random, depth: depth)
                    writer.field(field.number, bytes: entry.bytes)
                } else {
                    value(field, number: field.number, hostile: hostile, hostility: hostility, into: &writer, &random, depth: depth)
                }
            }
        }
        return writer.bytes
    }

    private func value(
        _ field: ProtoFieldSchema, number: Int32, hostile: Bool, hostility: Double, into writer: inout ProtoWriter,
        _ random: inout SeededGenerator, depth: Int
    ) {
        switch field.type {
        case "message" where field.typeName == "karokar.common.v1.Timestamp":
            writer.field(number, bytes: hostile ? FuzzValues.hostileTimestamp(&random) : FuzzValues.plausibleTimestamp(field.name, &random))
        case "message":
            writer.field(number, bytes: message(field.typeName, &random, hostility: hostile ? 0.5 : hostility, depth: depth + 1))
        case "string", "bytes":
            writer.field(number, bytes: hostile ? FuzzValues.string(for: field, pools, &random) : FuzzValues.plausibleString(field.name, own, pools, &random))
        case "bool":
            writer.field(number, varint: hostile ? 2 : UInt64.random(in: 0...1, using: &random))
        case "enum":
            let hostileNumbers: [Int64] = [0, 99, -1, Int64(Int32.max)]
            writer.field(number, varint: UInt64(bitPattern: hostile ? hostileNumbers.randomElement(using: &random)! : Int64.random(in: 1...3, using: &random)))
        case "uint32", "uint64":
            writer.field(number, varint: hostile ? FuzzValues.uint64Ends.randomElement(using: &random)! : FuzzValues.plausibleNumber(field.name))
        case "int32":
            writer.field(number, varint: hostile
                ? UInt64(bitPattern: Int64(FuzzValues.int32Ends.randomElement(using: &random)!)) : FuzzValues.plausibleNumber(field.name))
        default:
            writer.field(number, varint: hostile
                ? UInt64(bitPattern: FuzzValues.int64Ends.randomElement(using: &random)!) : FuzzValues.plausibleNumber(field.name))
        }
    }
}

public import KaroKarProto
import Synchronization

/// Enums are stored as text, spelled as their protobuf value name without the enum's prefix
/// (`AvailabilityStatus.reserved` <-> `'RESERVED'`), so SQL, logs and the wire agree and no
/// context hand-writes a mapping per value.
extension ProtoEnum {
    /// `AVAILABILITY_STATUS_` for `karokar.fleet.v1.AvailabilityStatus` (ASCII only: generated names).
    static var storedPrefix: String {
        let name = protoName.utf8.split(separator: UInt8(ascii: ".")).last ?? protoName.utf8[...]
        var snake: [UInt8] = []
        snake.reserveCapacity(name.count + 8)
        for byte in name {
            let upper = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            if upper, !snake.isEmpty { snake.append(UInt8(ascii: "_")) }
            snake.append(upper || !(UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte : byte - 32)
        }
        snake.append(UInt8(ascii: "_"))
        return String(decoding: snake, as: UTF8.self)
    }

    /// The stored spelling; nil for the zero value and unrecognized values.
    public var storedName: String? {
        guard rawValue != 0 else { return nil }
        return StoredNames.table(of: Self.self).names[rawValue]
    }

    /// The value a stored spelling names; nil when the schema does not know it.
    public init?(storedName: String) {
        guard let number = StoredNames.table(of: Self.self).numbers[storedName] else { return nil }
        self.init(rawValue: number)
    }

    /// The same value in another generated enum with the same numbering (events copy the
    /// contexts' enums so consumers need not know the context's package).
    public func converted<Other: ProtoEnum>(to type: Other.Type = Other.self) -> Other {
        Other(rawValue: rawValue)
    }
}

/// Each enum type's stored spellings, computed once per type (rows and requests convert enums
/// on every call).
enum StoredNames {
    struct Table: Sendable {
        var names: [Int32: String] = [:]
        var numbers: [String: Int32] = [:]
    }

    private static let tables = Mutex<[ObjectIdentifier: Table]>([:])

    static func table<E: ProtoEnum>(of type: E.Type) -> Table {
        tables.withLock { tables in
            if let table = tables[ObjectIdentifier(type)] { return table }
            let prefix = E.storedPrefix
            var table = Table()
            for value in E.protoValues where value.number != 0 && value.name.hasPrefix(prefix) {
                let stored = String(value.name.dropFirst(prefix.count))
                table.names[value.number] = stored
                table.numbers[stored] = value.number
            }
            tables[ObjectIdentifier(type)] = table
            return table
        }
    }
}

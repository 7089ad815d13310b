public import KaroKarProto

/// Enums are stored as text, spelled as their protobuf value name without the enum's prefix
/// (`AvailabilityStatus.reserved` <-> `'RESERVED'`), so SQL, logs and the wire agree and no
/// context hand-writes a mapping per value.
extension ProtoEnum {
    /// `AVAILABILITY_STATUS_` for `karokar.fleet.v1.AvailabilityStatus`.
    static var storedPrefix: String {
        let name = protoName.split(separator: ".").last.map(String.init) ?? protoName
        var snake = ""
        for character in name {
            if character.isUppercase, !snake.isEmpty { snake += "_" }
            snake += character.uppercased()
        }
        return snake + "_"
    }

    /// The stored spelling; nil for the zero value and unrecognized values.
    public var storedName: String? {
        guard rawValue != 0, let name = protoValueName, name.hasPrefix(Self.storedPrefix) else { return nil }
        return String(name.dropFirst(Self.storedPrefix.count))
    }

    /// The value a stored spelling names; nil when the schema does not know it.
    public init?(storedName: String) {
        let full = Self.storedPrefix + storedName
        guard let value = Self.protoValues.first(where: { $0.name == full }) else { return nil }
        self.init(rawValue: value.number)
    }

    /// The same value in another generated enum with the same numbering (events copy the
    /// contexts' enums so consumers need not know the context's package).
    public func converted<Other: ProtoEnum>(to type: Other.Type = Other.self) -> Other {
        Other(rawValue: rawValue)
    }
}

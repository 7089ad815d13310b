public import KaroKarPostgres

/// A stored value this code did not write (an unknown enum spelling, a row that breaks an
/// invariant the schema cannot state): a bug or a foreign write, answered INTERNAL and logged.
public struct CorruptRow: Error, CustomStringConvertible {
    public let description: String

    public init(description: String) {
        self.description = description
    }
}

extension PostgresRow {
    /// A text column as a domain enum whose raw values are the stored spellings.
    public func enumeration<E: RawRepresentable>(_ type: E.Type, _ column: String) throws -> E where E.RawValue == String {
        guard let value = E(rawValue: try decode(String.self, column)) else { throw CorruptRow(description: "\(column) holds an unknown value") }
        return value
    }

    /// A nullable text column as a domain enum.
    public func enumeration<E: RawRepresentable>(_ type: E?.Type, _ column: String) throws -> E? where E.RawValue == String {
        guard let text = try decode(String?.self, column) else { return nil }
        guard let value = E(rawValue: text) else { throw CorruptRow(description: "\(column) holds an unknown value") }
        return value
    }
}

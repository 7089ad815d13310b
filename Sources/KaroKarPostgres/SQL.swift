/// A statement whose values can only be bind parameters: every interpolated value becomes `$n`.
///
///     let rows = try await connection.query("SELECT id FROM fleet.vehicle WHERE plate = \(plate)")
///
/// There is deliberately no way to interpolate raw text: SQL is never assembled from input.
public struct SQL: Sendable, Hashable, ExpressibleByStringInterpolation {
    /// The statement with `$1`, `$2`, ... placeholders.
    public private(set) var text: String
    /// Bind values in text format; nil is SQL NULL.
    public private(set) var binds: [String?]

    public init(stringLiteral value: String) {
        text = value
        binds = []
    }

    public init(stringInterpolation: StringInterpolation) {
        text = stringInterpolation.text
        binds = stringInterpolation.binds
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var text = ""
        var binds: [String?] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + 3 * interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            text += literal
        }

        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            binds.append(value.postgresText)
            text += "$\(binds.count)"
        }

        public mutating func appendInterpolation(_ value: (some PostgresEncodable)?) {
            binds.append(value?.postgresText)
            text += "$\(binds.count)"
        }
    }
}

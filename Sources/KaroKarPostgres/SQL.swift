/// A statement whose values can only be bind parameters: every interpolated value becomes `$n`.
///
///     let rows = try await connection.query("SELECT id FROM fleet.vehicle WHERE plate = \(plate)")
///
/// There is deliberately no way to interpolate raw text: SQL is never assembled from input. The
/// one exception is a ``SQLFragment``, which can only be made from a string literal (a column
/// list shared by several queries, say), so no value read at run time can ever become SQL.
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

        /// Splices a fragment written in the source code (never a value).
        public mutating func appendInterpolation(_ fragment: SQLFragment) {
            text += fragment.text
        }

        public mutating func appendInterpolation(_ value: (some PostgresEncodable)?) {
            binds.append(value?.postgresText)
            text += "$\(binds.count)"
        }
    }
}

/// A piece of SQL text fixed at compile time: a column list or a shared clause. Only a string
/// literal can make one (`StaticString`), so it cannot carry input.
public struct SQLFragment: Sendable, Hashable {
    let text: String

    public init(_ literal: StaticString) {
        text = literal.description
    }
}

/// A statement whose values can only be bind parameters: every interpolated value becomes `$n`.
///
///     let rows = try await connection.query("SELECT id FROM fleet.vehicle WHERE plate = \(plate)")
///
/// There is deliberately no way to interpolate raw text: SQL is never assembled from input. The
/// one exception is a ``SQLFragment``, which can only be made from a string literal (a column
/// list shared by several queries, say), so no value read at run time can ever become SQL. A
/// `\(clause:)` splices another `SQL` (an optional filter, present or not), whose values stay
/// bind parameters, renumbered.
public struct SQL: Sendable, Hashable, ExpressibleByStringInterpolation {
    /// The statement with `$1`, `$2`, ... placeholders.
    public private(set) var text: String
    /// Bind values in text format; nil is SQL NULL.
    public private(set) var binds: [String?]
    /// Where each placeholder starts in `text` (UTF-8 offsets, in bind order), so that a statement
    /// spliced into another as a clause can be renumbered without reading its text.
    private var placeholders: [Int]

    public init(stringLiteral value: String) {
        text = value
        binds = []
        placeholders = []
    }

    public init(stringInterpolation: StringInterpolation) {
        text = stringInterpolation.text
        binds = stringInterpolation.binds
        placeholders = stringInterpolation.placeholders
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var text = ""
        var binds: [String?] = []
        var placeholders: [Int] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + 3 * interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            text += literal
        }

        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            appendBind(value.postgresText)
        }

        private mutating func appendBind(_ bind: String?) {
            binds.append(bind)
            placeholders.append(text.utf8.count)
            text += "$\(binds.count)"
        }

        /// Splices a clause (itself a statement of bind parameters and source text) when there
        /// is one, and nothing when it is nil: its placeholders are renumbered after this
        /// statement's. For a filter that is present or not, where `($1 IS NULL OR col = $1)`
        /// would do: the statement differs by the filters present, so each combination is its own
        /// prepared statement, and PostgreSQL's generic plan of it (after five runs) can use the
        /// filter as an index condition, which it cannot through `$1 IS NULL OR`.
        public mutating func appendInterpolation(clause: SQL?) {
            guard let clause else { return }
            let source = Array(clause.text.utf8)
            var copied = 0
            for (number, (offset, bind)) in zip(clause.placeholders, clause.binds).enumerated() {
                text += String(decoding: source[copied..<offset], as: UTF8.self)
                copied = offset + "$\(number + 1)".utf8.count  // the clause's own `$n`, replaced
                appendBind(bind)
            }
            text += String(decoding: source[copied...], as: UTF8.self)
        }

        /// Splices a fragment written in the source code (never a value).
        public mutating func appendInterpolation(_ fragment: SQLFragment) {
            text += fragment.text
        }

        public mutating func appendInterpolation(_ value: (some PostgresEncodable)?) {
            appendBind(value?.postgresText)
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

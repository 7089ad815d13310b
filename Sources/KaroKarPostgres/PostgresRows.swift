/// A query's result, copied out of libpq (the C result is freed at once).
public struct PostgresRows: Sendable, Sequence {
    public let columns: [String]
    @usableFromInline let values: [[String?]]
    /// Rows affected by INSERT/UPDATE/DELETE (`PQcmdTuples`), 0 otherwise.
    public let affectedRows: Int

    public var count: Int { values.count }
    public var isEmpty: Bool { values.isEmpty }

    @inlinable
    public subscript(index: Int) -> PostgresRow {
        PostgresRow(columns: columns, values: values[index])
    }

    public func makeIterator() -> some IteratorProtocol<PostgresRow> {
        values.lazy.map { PostgresRow(columns: columns, values: $0) }.makeIterator()
    }

    /// The only row; throws if there is none or more than one.
    @inlinable
    public func single() throws -> PostgresRow {
        guard values.count == 1 else {
            throw PostgresError(code: .decoding, serverMessage: "expected one row, got \(values.count)")
        }
        return self[0]
    }
}

/// One row: typed access by column name or position. The accessors are inlinable so that each
/// caller's decoding is specialized for its types (rows are decoded on every call).
public struct PostgresRow: Sendable {
    @usableFromInline let columns: [String]
    @usableFromInline let values: [String?]

    @usableFromInline
    init(columns: [String], values: [String?]) {
        self.columns = columns
        self.values = values
    }

    @inlinable
    public func decode<T: PostgresDecodable>(_ type: T.Type, _ column: String) throws -> T {
        guard let value = try decode(T?.self, column) else {
            throw PostgresError(code: .decoding, serverMessage: "column \(column) is NULL")
        }
        return value
    }

    @inlinable
    public func decode<T: PostgresDecodable>(_ type: T?.Type, _ column: String) throws -> T? {
        guard let index = columns.firstIndex(of: column) else {
            throw PostgresError(code: .decoding, serverMessage: "no column \(column) in \(columns)")
        }
        return try decode(T?.self, at: index)
    }

    @inlinable
    public func decode<T: PostgresDecodable>(_ type: T.Type, at index: Int) throws -> T {
        guard let value = try decode(T?.self, at: index) else {
            throw PostgresError(code: .decoding, serverMessage: "column \(index) is NULL")
        }
        return value
    }

    @inlinable
    public func decode<T: PostgresDecodable>(_ type: T?.Type, at index: Int) throws -> T? {
        guard index < values.count else {
            throw PostgresError(code: .decoding, serverMessage: "no column \(index)")
        }
        guard let text = values[index] else { return nil }
        return try T(postgresText: text)
    }
}

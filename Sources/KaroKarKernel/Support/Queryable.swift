public import KaroKarPostgres

/// Anything a statement runs on: the pool (one statement in its own transaction) or a unit of
/// work. Stores take `some Queryable`, so one read serves inside and outside transactions.
public protocol Queryable: Sendable {
    @discardableResult
    func query(_ sql: SQL) async throws -> PostgresRows
}

extension PostgresPool: Queryable {}
extension UnitOfWork: Queryable {}

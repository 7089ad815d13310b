import KaroKarPostgres
import Testing

/// The statement builder: values only ever become bind parameters, and a clause spliced in is
/// renumbered after the statement's own (no database needed).
@Suite struct SQLTests {
    @Test func valuesBecomePlaceholdersInOrder() {
        let name = "O'Brien; DROP TABLE x", limit = 5, missing: String? = nil
        let sql: SQL = "SELECT * FROM t WHERE name = \(name) AND note = \(missing) LIMIT \(limit)"
        #expect(sql.text == "SELECT * FROM t WHERE name = $1 AND note = $2 LIMIT $3")
        #expect(sql.binds == [name, nil, "5"])
    }

    @Test func aClauseIsRenumberedAfterTheStatementsOwnBinds() {
        let model: String? = "Sigma", year: Int? = 2025
        let clause: SQL = "AND model = lower(\(model)::text) AND year >= \(year)::int"
        let sql: SQL = "SELECT 1 WHERE make = \(Optional("skoda")) \(clause: clause) AND id > \(12) \(clause: clause)"
        #expect(sql.text == "SELECT 1 WHERE make = $1 AND model = lower($2::text) AND year >= $3::int AND id > $4 AND model = lower($5::text) AND year >= $6::int")
        #expect(sql.binds == ["skoda", "Sigma", "2025", "12", "Sigma", "2025"])
    }

    @Test func anAbsentClauseLeavesNothing() {
        let model: String? = nil
        let sql: SQL = "SELECT 1 WHERE make = \("skoda") \(clause: model.map { "AND model = \($0)" }) LIMIT \(3)"
        #expect(sql.text == "SELECT 1 WHERE make = $1  LIMIT $2")
        #expect(sql.binds == ["skoda", "3"])
    }

    @Test func clausesNestAndKeepNonASCIIText() {
        let inner: SQL = "AND note = \("é") AND k = \(10)"
        let outer: SQL = "AND label = 'ünï' \(clause: inner) AND z = \(11)"
        let sql: SQL = "SELECT \(1) \(clause: outer) -- $9 in a comment stays"
        #expect(sql.text == "SELECT $1 AND label = 'ünï' AND note = $2 AND k = $3 AND z = $4 -- $9 in a comment stays")
        #expect(sql.binds == ["1", "é", "10", "11"])
    }
}

public import KaroKarPostgres

/// A fingerprint of every row of every table in some schemas: equal before and after means a
/// refused call changed nothing. (The statement is constant; PostgreSQL quotes the identifiers.)
/// Of `karokar_events`, only the outbox: the relay's tables change in the background.
public enum TableSnapshot {
    public static func take(_ pool: PostgresPool, schemas: [String] = ["identity", "administration", "karokar_events"]) async throws -> [String: String] {
        let rows = try await pool.query("""
            SELECT n.nspname || '.' || c.relname AS name,
                   (xpath('/row/sum/text()', query_to_xml(
                       format('SELECT md5(coalesce(string_agg(t::text, %L ORDER BY t::text), %L)) AS sum FROM %I.%I t', ',', '', n.nspname, c.relname),
                       false, true, '')))[1]::text AS sum
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY(\(schemas)::text[]) AND c.relkind = 'r'
              -- The relay's own bookkeeping (deliveries being settled, cursors, the horizon) moves in
              -- the background by itself; what a call publishes is in the outbox.
              AND (n.nspname <> 'karokar_events' OR c.relname = 'outbox')
            """)
        var snapshot: [String: String] = [:]
        for row in rows { snapshot[try row.decode(String.self, "name")] = try row.decode(String.self, "sum") }
        return snapshot
    }
}

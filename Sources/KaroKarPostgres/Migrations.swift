import Foundation

/// One versioned SQL script of one context's schema.
public struct Migration: Sendable, Hashable {
    /// The owning context, also its PostgreSQL schema (`fleet`, `booking`, `karokar_events`).
    public let context: String
    public let version: Int
    public let name: String
    public let sql: String

    public init(context: String, version: Int, name: String, sql: String) {
        self.context = context
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Reads `<directory>/<context>/<NNNN>_<name>.sql` files. Versions must be unique per context.
    public static func load(directory: String) throws -> [Migration] {
        let fileManager = FileManager.default
        var migrations: [Migration] = []
        for context in try fileManager.contentsOfDirectory(atPath: directory).sorted() {
            let folder = "\(directory)/\(context)"
            var isDirectory: ObjCBool = false
            guard fileManager.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            for file in try fileManager.contentsOfDirectory(atPath: folder).sorted() where file.hasSuffix(".sql") {
                let stem = file.dropLast(4)
                let parts = stem.split(separator: "_", maxSplits: 1)
                guard parts.count == 2, let version = Int(parts[0]), version > 0 else {
                    throw MigrationError.badFileName("\(context)/\(file)")
                }
                migrations.append(Migration(
                    context: context, version: version, name: String(parts[1]),
                    sql: try String(contentsOfFile: "\(folder)/\(file)", encoding: .utf8)
                ))
            }
        }
        return migrations
    }
}

public enum MigrationError: Error, CustomStringConvertible, Equatable {
    case badFileName(String)
    case duplicateVersion(context: String, version: Int)
    /// A migration changed after it was applied: never edit an applied migration, add a new one.
    case checksumMismatch(context: String, version: Int)

    public var description: String {
        switch self {
        case .badFileName(let file): "migration file \(file) must be named NNNN_name.sql"
        case .duplicateVersion(let context, let version): "two \(context) migrations have version \(version)"
        case .checksumMismatch(let context, let version):
            "\(context) migration \(version) was edited after it was applied; add a new migration instead"
        }
    }
}

/// Applies migrations in order, each exactly once and in its own transaction, under an advisory
/// lock so several server processes starting together are safe.
public enum MigrationRunner {
    /// Arbitrary, fixed: the advisory lock key all KaroKar processes agree on.
    static let lockKey: Int64 = 0x4B41_524F_4B41_5201

    /// Returns the migrations it applied (empty when the database was up to date).
    @discardableResult
    public static func migrate(_ migrations: [Migration], pool: PostgresPool) async throws -> [Migration] {
        let ordered = try validated(migrations)
        return try await pool.withConnection { session in
            try await session.query("SELECT pg_advisory_lock(\(lockKey))")
            do {
                let applied = try await apply(ordered, session: session)
                try await session.query("SELECT pg_advisory_unlock(\(lockKey))")
                return applied
            } catch {
                _ = try? await session.query("SELECT pg_advisory_unlock(\(lockKey))")
                throw error
            }
        }
    }

    private static func validated(_ migrations: [Migration]) throws -> [Migration] {
        var seen = Set<String>()
        for migration in migrations where migration.context.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) == nil {
            throw MigrationError.badFileName("\(migration.context)/\(migration.version)_\(migration.name).sql (context must be a plain lower-case name)")
        }
        for migration in migrations where !seen.insert("\(migration.context)/\(migration.version)").inserted {
            throw MigrationError.duplicateVersion(context: migration.context, version: migration.version)
        }
        let contexts = migrations.map(\.context).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        return migrations.sorted {
            ($0.context == $1.context) ? $0.version < $1.version
                : contexts.firstIndex(of: $0.context)! < contexts.firstIndex(of: $1.context)!
        }
    }

    private static func apply(_ migrations: [Migration], session: PostgresSession) async throws -> [Migration] {
        try await session.simple("""
            CREATE SCHEMA IF NOT EXISTS karokar_meta;
            CREATE TABLE IF NOT EXISTS karokar_meta.schema_migrations (
                context text NOT NULL, version int NOT NULL, name text NOT NULL, checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (context, version));
            """)
        var applied: [Migration] = []
        for migration in migrations {
            let checksum = try await session.query(
                "SELECT encode(sha256(convert_to(\(migration.sql), 'UTF8')), 'hex') AS sum"
            ).single().decode(String.self, "sum")
            let existing = try await session.query("""
                SELECT checksum FROM karokar_meta.schema_migrations WHERE context = \(migration.context) AND version = \(migration.version)
                """)
            if let row = existing.first(where: { _ in true }) {
                guard try row.decode(String.self, "checksum") == checksum else {
                    throw MigrationError.checksumMismatch(context: migration.context, version: migration.version)
                }
                continue
            }
            try await session.simple("BEGIN")
            do {
                // Without it, libpq prints "schema ... already exists, skipping" on standard error
                // for every migration after a context's first; warnings still come through.
                try await session.simple("SET LOCAL client_min_messages = warning")
                try await session.simple("CREATE SCHEMA IF NOT EXISTS \"\(migration.context)\"")
                try await session.simple(migration.sql)
                try await session.query("""
                    INSERT INTO karokar_meta.schema_migrations (context, version, name, checksum)
                    VALUES (\(migration.context), \(migration.version), \(migration.name), \(checksum))
                    """)
                try await session.simple("COMMIT")
            } catch {
                await session.rollback()
                throw error
            }
            applied.append(migration)
        }
        return applied
    }
}

import KaroKarMessages
public import KaroKarPostgres
public import KaroKarProto
import KaroKarRPC
public import Testing

/// Text at a length limit counted the three ways that disagree: characters (Swift's grapheme
/// clusters), code points (what PostgreSQL's `char_length` and the service's validation count)
/// and UTF-8 bytes.
public enum TextSamples {
    /// `codePoints` code points in about half as many characters: "é" written as `e` and a
    /// combining acute accent (U+0301), which is one character and two code points.
    public static func decomposed(codePoints: Int) -> String {
        String(repeating: "e\u{301}", count: codePoints / 2) + (codePoints % 2 == 1 ? "e" : "")
    }

    /// `count` code points, each a character of four UTF-8 bytes.
    public static func astral(_ count: Int) -> String {
        String(repeating: "\u{1F697}", count: count)  // 🚗
    }

    public static func ascii(_ count: Int) -> String {
        String(repeating: "a", count: count)
    }

    /// Values a field limited to `limit` code points must accept, by name.
    public static func accepted(limit: Int) -> [(String, String)] {
        [("ascii", ascii(limit)), ("decomposed", decomposed(codePoints: limit)), ("astral", astral(limit))]
    }

    /// Values it must refuse as TOO_LONG: one code point over, however few characters or bytes.
    public static func refused(limit: Int) -> [(String, String)] {
        [("ascii", ascii(limit + 1)), ("decomposed, fewer characters than the limit", decomposed(codePoints: limit + 1)),
         ("astral", astral(limit + 1))]
    }
}

/// Hand-made protobuf bytes, for what the Swift codec cannot write: a string holding NUL (the
/// codec hands protobuf-c C strings) or bytes that are not UTF-8.
public enum WireBytes {
    public static func varint(_ value: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        return bytes + [UInt8(rest)]
    }

    /// A length-delimited field (string, bytes, sub-message).
    public static func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] {
        varint(UInt64(number) << 3 | 2) + varint(UInt64(bytes.count)) + bytes
    }

    /// `message` encoded, then `field` once more with `bytes`: for a singular string field the
    /// last occurrence wins, so this replaces its value.
    public static func replacing<M: ProtoMessage>(_ message: M, field number: Int, with bytes: [UInt8]) -> [UInt8] {
        ProtoCodec.encode(message) + field(number, bytes)
    }
}

/// Expects INVALID_ARGUMENT with a field violation `code` on `field`.
public func expectViolation(
    _ field: String, _ code: String, _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
) async {
    do {
        try await body()
        Issue.record("expected INVALID_ARGUMENT for \(field), the call succeeded", sourceLocation: sourceLocation)
    } catch let error as RPCError {
        #expect(error.code == .invalidArgument, "\(error)", sourceLocation: sourceLocation)
        #expect(error.fieldViolations.contains { $0.field == field && $0.code == code }, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected INVALID_ARGUMENT, got \(error)", sourceLocation: sourceLocation)
    }
}

/// A text field limited to `limit` code points, sent by `send` (which answers the value stored):
/// every ``TextSamples/accepted(limit:)`` value is stored exactly as sent, every
/// ``TextSamples/refused(limit:)`` one is INVALID_ARGUMENT / TOO_LONG on `field`, and leaves the
/// tables of `schemas` as they were and publishes no event. (The event tables themselves change
/// while the relay delivers what the accepted values published.)
public func expectTextLimit(
    _ field: String, of column: String, limit: Int, pool: PostgresPool, schemas: [String],
    send: (String) async throws -> String, sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    for (name, value) in TextSamples.accepted(limit: limit) {
        let stored = try await send(value)
        #expect(stored.unicodeScalars.elementsEqual(value.unicodeScalars), "\(column), \(name): stored as sent", sourceLocation: sourceLocation)
    }
    let (before, published) = (try await TableSnapshot.take(pool, schemas: schemas), try await publishedEvents(pool))
    for (_, value) in TextSamples.refused(limit: limit) {
        await expectViolation(field, "TOO_LONG", { _ = try await send(value) }, sourceLocation: sourceLocation)
    }
    #expect(try await TableSnapshot.take(pool, schemas: schemas) == before, "\(column): nothing written", sourceLocation: sourceLocation)
    #expect(try await publishedEvents(pool) == published, "\(column): no event", sourceLocation: sourceLocation)
}

/// How many events have been published (the outbox only grows).
public func publishedEvents(_ pool: PostgresPool) async throws -> Int {
    try await pool.query("SELECT count(*) AS n FROM karokar_events.outbox").single().decode(Int.self, "n")
}

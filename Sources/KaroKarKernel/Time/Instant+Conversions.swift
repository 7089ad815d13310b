public import KaroKarMessages
public import KaroKarPostgres

// The two edges of the domain's time types: SQL (a `timestamptz` / `tstzrange` bind or column)
// and the wire (`CommonV1.Timestamp`, `Period`, `OpenPeriod`). Only stores use the first, only
// the RPC layer the second.

extension Instant: PostgresCodable {
    public var postgresText: String { PostgresTimestamp(microseconds: microseconds).postgresText }

    public init(postgresText: String) throws {
        self.init(microseconds: try PostgresTimestamp(postgresText: postgresText).microseconds)
    }

    public init(_ timestamp: PostgresTimestamp) {
        self.init(microseconds: timestamp.microseconds)
    }

    public var postgres: PostgresTimestamp { PostgresTimestamp(microseconds: microseconds) }
}

extension Period: PostgresCodable {
    public var postgresText: String { postgres.postgresText }

    public init(postgresText: String) throws {
        try self.init(PostgresTimestampRange(postgresText: postgresText))
    }

    /// A range read from the database; one whose upper bound is not after its lower is corrupt.
    public init(_ range: PostgresTimestampRange) throws {
        guard let period = Period(start: Instant(range.lower), end: range.upper.map(Instant.init)) else {
            throw PostgresError(code: .decoding, serverMessage: "an empty period \(range.postgresText)")
        }
        self = period
    }

    public var postgres: PostgresTimestampRange { PostgresTimestampRange(lower: start.postgres, upper: end?.postgres) }
}

extension Instant {
    /// A wire timestamp the server made itself (an event's `occurredAt`), saturating instead of
    /// trapping. Requests' instants go through ``Validation/instant(_:_:)``, which refuses
    /// out-of-range values instead.
    public init(_ timestamp: CommonV1.Timestamp) {
        let (scaled, overflow) = timestamp.seconds.multipliedReportingOverflow(by: 1_000_000)
        self.init(microseconds: overflow ? (timestamp.seconds < 0 ? .min : .max) : scaled.addingSaturated(Int64(timestamp.nanos / 1000)))
    }

    /// The wire form.
    public var timestamp: CommonV1.Timestamp {
        let remainder = microseconds - seconds * 1_000_000  // 0 ..< 1_000_000: no overflow
        return CommonV1.Timestamp(seconds: seconds, nanos: Int32(remainder) * 1000)
    }
}

extension Period {
    /// The wire form of a closed period (an open one sends no `end`).
    public var message: CommonV1.Period { CommonV1.Period(start: start.timestamp, end: end?.timestamp) }

    /// The wire form of a period whose end may be open.
    public var openMessage: CommonV1.OpenPeriod { CommonV1.OpenPeriod(start: start.timestamp, end: end?.timestamp) }
}

import Foundation
import KaroKarKernel
import KaroKarPostgres

/// SQL <-> deliveries: planning (in the consumer's transaction), the senders' claims and
/// outcomes, the inbox and the delivery lists (keyset-paged on `created_at DESC, id DESC`).
enum DeliveryStore {
    /// One delivery to write, rendered.
    struct Planned: Sendable {
        var eventID: UUID
        var eventType: String
        var recipient: RecipientFacts
        var channel: NotificationChannel
        var template: String
        var status: DeliveryStatus
        var lastError: String?
        var address: String
        var title: String
        var body: String
        var shortBody: String
        var subjectType: String
        var subjectID: String
        /// Written leased for this process's senders (PENDING, a sender configured for the channel).
        var leased = false
    }

    /// Writes the deliveries, in one statement, but none the event already has for the recipient
    /// and channel (a redelivered event changes nothing). PENDING ones are due at once, but those
    /// `leased` for this process's senders (``DeliveryHandoff``): written as a claim leaves them
    /// (one attempt, under `lease`'s token, due again when the lease ends); SENT ones (in-app) are
    /// sent now. Their ids are time-ordered (made at `now`): the table's primary key takes them
    /// at its right end. Without leased ones the statement is queued with the transaction's next
    /// one; with them it runs now and returns the leased deliveries it wrote, to be handed over
    /// after commit (one the event already had is not written, so not handed over either).
    static func plan(_ planned: [Planned], at now: Instant, lease: Duration, _ work: UnitOfWork) async throws -> [OutgoingDelivery] {
        guard !planned.isEmpty else { return [] }
        let milliseconds = now.microseconds / 1000
        let ids = planned.map { _ in UUID.timeOrdered(unixMilliseconds: milliseconds) }
        let names = planned.map { "\($0.recipient.firstName) \($0.recipient.lastName)" }
        let anyLeased = planned.contains(where: \.leased)
        let token = UUID.random()
        let statement: SQL = """
            INSERT INTO notification.deliveries (id, event_id, event_type, recipient_user_id, organization_id, channel, template, status,
                last_error, attempts, lease, next_attempt_at, sent_at, address, recipient_name, title, body, short_body, subject_type, subject_id)
            SELECT u.id, u.event_id, u.event_type, u.recipient_user_id, u.organization_id, u.channel, u.template, u.status,
                NULLIF(u.last_error, ''), CASE WHEN u.leased THEN 1 ELSE 0 END, CASE WHEN u.leased THEN \(token)::uuid END,
                CASE WHEN u.leased THEN clock_timestamp() + \(lease.milliseconds)::int8 * interval '1 millisecond'
                     WHEN u.status = 'PENDING' THEN clock_timestamp() END,
                CASE WHEN u.status = 'SENT' THEN clock_timestamp() END, u.address, u.recipient_name, u.title, u.body, u.short_body,
                u.subject_type, u.subject_id
            FROM unnest(\(ids)::uuid[], \(planned.map(\.eventID))::uuid[], \(planned.map(\.eventType))::text[],
                \(planned.map(\.recipient.userID))::uuid[], \(planned.map(\.recipient.organizationID))::uuid[],
                \(planned.map(\.channel.rawValue))::text[], \(planned.map(\.template))::text[], \(planned.map(\.status.rawValue))::text[],
                \(planned.map { $0.lastError ?? "" })::text[], \(planned.map(\.leased))::boolean[], \(planned.map(\.address))::text[],
                \(names)::text[], \(planned.map(\.title))::text[],
                \(planned.map(\.body))::text[], \(planned.map(\.shortBody))::text[], \(planned.map(\.subjectType))::text[],
                \(planned.map(\.subjectID))::text[])
                AS u(id, event_id, event_type, recipient_user_id, organization_id, channel, template, status, last_error, leased, address,
                     recipient_name, title, body, short_body, subject_type, subject_id)
            ON CONFLICT (event_id, recipient_user_id, channel) DO NOTHING
            RETURNING id
            """
        guard anyLeased else {
            work.session.enqueue(statement)
            return []
        }
        let written = Set(try await work.query(statement).map { try $0.decode(UUID.self, "id") })
        return planned.indices.compactMap { index in
            let row = planned[index]
            guard row.leased, written.contains(ids[index]) else { return nil }
            return OutgoingDelivery(
                id: ids[index], eventID: row.eventID, eventType: row.eventType, recipientUserID: row.recipient.userID, channel: row.channel,
                address: row.address, recipientName: names[index], title: row.title, body: row.body, shortBody: row.shortBody,
                attempt: 1, lease: token
            )
        }
    }

    /// What a booking event tells Notification about its booking.
    struct LearnedBooking: Sendable {
        var booking: UUID
        var vehicle: UUID
        var corporate: UUID
        var open: Bool
    }

    /// Learns bookings' vehicles, corporates and whether they are open (a closed one stays
    /// closed), in one statement queued with the transaction's next; each booking once.
    static func learnBookings(_ bookings: [LearnedBooking], _ work: UnitOfWork) {
        guard !bookings.isEmpty else { return }
        work.session.enqueue("""
            INSERT INTO notification.bookings (booking_id, vehicle_id, corporate_organization_id, open)
            SELECT * FROM unnest(\(bookings.map(\.booking))::uuid[], \(bookings.map(\.vehicle))::uuid[],
                                 \(bookings.map(\.corporate))::uuid[], \(bookings.map(\.open))::boolean[])
            ON CONFLICT (booking_id) DO UPDATE SET open = EXCLUDED.open AND notification.bookings.open, updated_at = clock_timestamp()
            """)
    }

    /// The corporates with an open booking on `vehicle`.
    static func bookingCorporates(vehicle: UUID, _ work: UnitOfWork) async throws -> [UUID] {
        try await work.query("""
            SELECT DISTINCT corporate_organization_id FROM notification.bookings WHERE vehicle_id = \(vehicle) AND open
            ORDER BY corporate_organization_id LIMIT 1000
            """).map { try $0.decode(UUID.self, "corporate_organization_id") }
    }

    // MARK: - Senders

    /// What a claim took: the deliveries, and how long the most recently due of them had been
    /// due (nil when it took none). The claim takes the longest due first, so a full claim whose
    /// freshest delivery had waited long says how far the senders are behind.
    struct Claim: Sendable {
        var deliveries: [OutgoingDelivery]
        var freshestWait: Duration?
    }

    /// Claims up to `limit` due deliveries (not in-app): each moves one `lease` ahead, its attempt
    /// counted, under a new lease token, in a transaction of its own that skips rows another
    /// process is claiming. A sender that dies leaves them due again when the lease ends.
    ///
    /// The plan is pinned (``pinPlan(_:)``) to `deliveries_due` in its order.
    static func claim(limit: Int, lease: Duration, channels: [NotificationChannel], pool: PostgresPool) async throws -> Claim {
        let token = UUID.random()
        let leaseMilliseconds = lease.milliseconds
        let rows = try await pool.transaction { session in
            pinPlan(session)
            return try await session.query("""
                WITH due AS (
                    SELECT id, next_attempt_at AS due_at FROM notification.deliveries
                    WHERE status = 'PENDING' AND next_attempt_at <= clock_timestamp() AND channel = ANY (\(channels.map(\.rawValue))::text[])
                    ORDER BY next_attempt_at LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE notification.deliveries AS d
                SET attempts = d.attempts + 1, lease = \(token)::uuid,
                    next_attempt_at = clock_timestamp() + \(leaseMilliseconds) * interval '1 millisecond'
                FROM due WHERE d.id = due.id
                RETURNING d.id, d.event_id, d.event_type, d.recipient_user_id, d.channel, d.address, d.recipient_name, d.title, d.body,
                          d.short_body, d.attempts, greatest(0, (extract(epoch FROM clock_timestamp() - due.due_at) * 1000000)::int8) AS waited_us
                """)
        }
        let deliveries = try rows.map { row in
            OutgoingDelivery(
                id: try row.decode(UUID.self, "id"), eventID: try row.decode(UUID.self, "event_id"),
                eventType: try row.decode(String.self, "event_type"), recipientUserID: try row.decode(UUID.self, "recipient_user_id"),
                channel: NotificationChannel(rawValue: try row.decode(String.self, "channel")) ?? .inApp,
                address: try row.decode(String.self, "address"), recipientName: try row.decode(String.self, "recipient_name"),
                title: try row.decode(String.self, "title"), body: try row.decode(String.self, "body"),
                shortBody: try row.decode(String.self, "short_body"), attempt: try row.decode(Int.self, "attempts"), lease: token
            )
        }
        let freshest = try rows.map { try $0.decode(Int.self, "waited_us") }.min()
        return Claim(deliveries: deliveries, freshestWait: freshest.map { .microseconds($0) })
    }

    /// Records sent deliveries, in one statement (each only under its claim), found by their
    /// keys (the plan pinned, ``pinPlan(_:)``). A lease is only ever held by a PENDING row (the
    /// table's `delivery_lease_only_pending` check), so the claim's token alone says the row is
    /// still PENDING under this claim; testing `status = 'PENDING'` as well let the planner join
    /// through the partial index of PENDING rows, every one of them per batch.
    static func sent(_ deliveries: [OutgoingDelivery], pool: PostgresPool) async throws {
        guard !deliveries.isEmpty else { return }
        try await pool.transaction { session in
            pinPlan(session)
            _ = try await session.query("""
                UPDATE notification.deliveries AS d
                SET status = 'SENT', sent_at = clock_timestamp(), next_attempt_at = NULL, lease = NULL, last_error = NULL,
                    version = d.version + 1
                FROM unnest(\(deliveries.map(\.id))::uuid[], \(deliveries.map(\.lease))::uuid[]) AS s(id, lease)
                WHERE d.id = s.id AND d.lease = s.lease
                """)
        }
    }

    /// The senders' statements run on plans that read only what they return, whatever the
    /// statistics say. The deliveries table fills faster than autovacuum analyzes it, and on the
    /// statistics of a new table PostgreSQL chose, as a prepared statement's cached generic plan,
    /// to read every PENDING row: the claim by a bitmap scan and a sort of all of them to take the
    /// first `limit` (57 to 77 ms per claim with 80,000 due, 1.5 ms in the index's order:
    /// Deploy/bench/notification-claim.sql), recording SENT by a hash join or a nested loop over
    /// all of them (15 to 330 ms per batch, seen with auto_explain in Deploy/bench-notification.sh). Each sending
    /// then cost in proportion to the backlog, so a backlog, once formed, drained at a few
    /// hundred e-mails per second until autovacuum's first ANALYZE. The settings are the
    /// transaction's own (`set_config(..., true)`), sent in the same round trip. With the plan
    /// pinned, the generic plan is the one wanted: without `plan_cache_mode`, PostgreSQL planned
    /// the SENT update afresh on half its calls (3,513 plans in 7,392 calls, 414 ms, in the first
    /// 24 s of Deploy/bench-notification.sh).
    static func pinPlan(_ session: PostgresSession) {
        session.enqueue("""
            SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true),
                   set_config('enable_sort', 'off', true), set_config('enable_hashjoin', 'off', true),
                   set_config('enable_mergejoin', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true)
            """)
    }

    /// Records a failed attempt: due again after `retryIn`, or FAILED when `retryIn` is nil.
    static func failed(_ delivery: OutgoingDelivery, error: String, retryIn: Duration?, pool: PostgresPool) async throws {
        let final = retryIn == nil
        let delay = retryIn?.milliseconds ?? 0
        try await pool.query("""
            UPDATE notification.deliveries
            SET status = CASE WHEN \(final)::boolean THEN 'FAILED' ELSE 'PENDING' END,
                next_attempt_at = CASE WHEN \(final)::boolean THEN NULL ELSE clock_timestamp() + \(delay) * interval '1 millisecond' END,
                lease = NULL, last_error = \(error), version = version + 1
            WHERE id = \(delivery.id) AND lease = \(delivery.lease)::uuid AND status = 'PENDING'
            """)
    }

    /// Retention: deletes up to `limit` deliveries created before `cutoff` that are done with
    /// (SENT or SKIPPED; an in-app one only once read), skipping rows another process is deleting;
    /// returns how many. FAILED deliveries (the operator's) and unread messages stay.
    static func prune(before cutoff: Instant, limit: Int, pool: PostgresPool) async throws -> Int {
        try await pool.query("""
            DELETE FROM notification.deliveries WHERE id IN (
                SELECT id FROM notification.deliveries
                WHERE created_at < \(cutoff.postgres)::timestamptz AND status IN ('SENT', 'SKIPPED')
                  AND (channel <> 'IN_APP' OR read_at IS NOT NULL)
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            )
            """).affectedRows
    }

    /// Retention of the learned bookings: deletes up to `limit` closed ones last changed before
    /// `cutoff`; returns how many.
    static func pruneBookings(before cutoff: Instant, limit: Int, pool: PostgresPool) async throws -> Int {
        try await pool.query("""
            DELETE FROM notification.bookings WHERE booking_id IN (
                SELECT booking_id FROM notification.bookings
                WHERE NOT open AND updated_at < \(cutoff.postgres)::timestamptz
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            )
            """).affectedRows
    }

    /// FAILED -> PENDING, due now, attempts reset; the delivery after, nil when there is none.
    static func retry(_ id: UUID, _ work: UnitOfWork) async throws -> Delivery? {
        try await work.query("""
            UPDATE notification.deliveries SET status = 'PENDING', attempts = 0, next_attempt_at = clock_timestamp(), lease = NULL,
                version = version + 1
            WHERE id = \(id) AND status = 'FAILED'
            RETURNING \(columns)
            """).first(where: { _ in true }).map(delivery)
    }

    // MARK: - Reads

    static let columns = SQLFragment(
        "id, event_id, event_type, recipient_user_id, organization_id, channel, template, status, attempts, last_error, next_attempt_at, created_at, sent_at"
    )

    static func delivery(_ row: PostgresRow) throws -> Delivery {
        guard let channel = NotificationChannel(rawValue: try row.decode(String.self, "channel")),
              let status = DeliveryStatus(rawValue: try row.decode(String.self, "status"))
        else { throw CorruptDelivery(description: "deliveries.channel or status holds an unknown value") }
        return Delivery(
            id: try row.decode(UUID.self, "id"), eventID: try row.decode(UUID.self, "event_id"),
            eventType: try row.decode(String.self, "event_type"), recipientUserID: try row.decode(UUID.self, "recipient_user_id"),
            organizationID: try row.decode(UUID.self, "organization_id"), channel: channel, template: try row.decode(String.self, "template"),
            status: status, attempts: try row.decode(Int.self, "attempts"), lastError: try row.decode(String?.self, "last_error"),
            nextAttemptAt: try row.decode(PostgresTimestamp?.self, "next_attempt_at").map(Instant.init),
            createdAt: Instant(try row.decode(PostgresTimestamp.self, "created_at")),
            sentAt: try row.decode(PostgresTimestamp?.self, "sent_at").map(Instant.init)
        )
    }

    static func find(_ id: UUID, _ work: UnitOfWork) async throws -> Delivery? {
        try await work.query("SELECT \(columns) FROM notification.deliveries WHERE id = \(id)").first(where: { _ in true }).map(delivery)
    }

    /// One page of deliveries matching `filter`, newest first, after `key`.
    static func list(_ filter: DeliveryFilter, after key: TimeKey?, limit: Int, _ work: UnitOfWork) async throws -> [Delivery] {
        let statuses = filter.statuses.isEmpty ? nil : filter.statuses.map(\.rawValue)
        return try await work.query("""
            SELECT \(columns) FROM notification.deliveries
            WHERE (\(filter.recipientUserID)::uuid IS NULL OR recipient_user_id = \(filter.recipientUserID)::uuid)
              AND (\(filter.organizationID)::uuid IS NULL OR organization_id = \(filter.organizationID)::uuid)
              AND (\(filter.eventID)::uuid IS NULL OR event_id = \(filter.eventID)::uuid)
              AND (\(filter.eventType)::text IS NULL OR event_type = \(filter.eventType))
              AND (\(statuses)::text[] IS NULL OR status = ANY (\(statuses)::text[]))
              AND (\(filter.channel?.rawValue)::text IS NULL OR channel = \(filter.channel?.rawValue))
              AND (\(key?.time.postgres)::timestamptz IS NULL OR (created_at, id) < (\(key?.time.postgres)::timestamptz, \(key?.id)::uuid))
            ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """).map(delivery)
    }
}

struct CorruptDelivery: Error, CustomStringConvertible {
    let description: String
}

extension Duration {
    /// Whole milliseconds (rounded down), for SQL intervals.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

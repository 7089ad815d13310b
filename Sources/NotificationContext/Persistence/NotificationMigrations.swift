public import KaroKarPostgres

/// The Notification context's schema, `notification` (DOMAIN.md section 9): deliveries (the
/// in-app ones are the inbox), users' channel preferences, and the bookings it learns from
/// booking events (which corporates book which vehicle).
public enum NotificationMigrations {
    public static let all: [Migration] = [
        Migration(context: "notification", version: 1, name: "deliveries_preferences_bookings", sql: """
            CREATE TABLE notification.deliveries (
                id uuid PRIMARY KEY,
                event_id uuid NOT NULL,
                event_type text NOT NULL,
                recipient_user_id uuid NOT NULL,
                organization_id uuid NOT NULL,
                channel text NOT NULL CHECK (channel IN ('EMAIL', 'SMS', 'PUSH', 'IN_APP')),
                template text NOT NULL,
                status text NOT NULL CHECK (status IN ('PENDING', 'SENT', 'FAILED', 'SKIPPED')),
                attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                last_error text,
                -- PENDING: when it is due (a claim moves it one lease ahead); NULL otherwise.
                next_attempt_at timestamptz,
                -- The current claim's token: only the claimant records the outcome.
                lease uuid,
                created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                sent_at timestamptz,
                -- Rendered when planned: what the sender sends.
                address text NOT NULL DEFAULT '',
                recipient_name text NOT NULL DEFAULT '',
                title text NOT NULL,
                body text NOT NULL,
                short_body text NOT NULL,
                subject_type text NOT NULL,
                subject_id text NOT NULL,
                -- In-app only.
                read_at timestamptz,
                version bigint NOT NULL DEFAULT 1 CHECK (version > 0),
                UNIQUE (event_id, recipient_user_id, channel),
                CHECK ((status = 'PENDING') = (next_attempt_at IS NOT NULL))
            );
            CREATE INDEX deliveries_due ON notification.deliveries (next_attempt_at) WHERE status = 'PENDING';
            CREATE INDEX deliveries_inbox ON notification.deliveries (recipient_user_id, organization_id, created_at DESC, id DESC)
                WHERE channel = 'IN_APP';
            CREATE INDEX deliveries_unread ON notification.deliveries (recipient_user_id, organization_id)
                WHERE channel = 'IN_APP' AND read_at IS NULL;
            CREATE INDEX deliveries_of_recipient ON notification.deliveries (recipient_user_id, created_at DESC, id DESC);
            CREATE INDEX deliveries_listing ON notification.deliveries (created_at DESC, id DESC);
            CREATE INDEX deliveries_of_event ON notification.deliveries (event_id);

            CREATE TABLE notification.preferences (
                user_id uuid PRIMARY KEY,
                entries jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(entries) = 'array'),
                version bigint NOT NULL DEFAULT 1 CHECK (version > 0),
                updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
            );

            -- Learned from booking.* events: open bookings per vehicle (vehicle.suspended tells
            -- the corporates booking it).
            CREATE TABLE notification.bookings (
                booking_id uuid PRIMARY KEY,
                vehicle_id uuid NOT NULL,
                corporate_organization_id uuid NOT NULL,
                open boolean NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
            );
            CREATE INDEX bookings_open_on_vehicle ON notification.bookings (vehicle_id) WHERE open;
            """),
        // A sender's claim is the only holder of a lease, and only while the row is PENDING:
        // recording an outcome finds the row by its id and lease alone (DeliveryStore.sent).
        Migration(context: "notification", version: 2, name: "lease_only_pending", sql: """
            UPDATE notification.deliveries SET lease = NULL WHERE lease IS NOT NULL AND status <> 'PENDING';
            ALTER TABLE notification.deliveries ADD CONSTRAINT delivery_lease_only_pending CHECK (lease IS NULL OR status = 'PENDING');
            """),
        // deliveries_of_event (event_id) repeats the leading column of the unique index on
        // (event_id, recipient_user_id, channel), which serves every lookup by event as well;
        // each planned delivery paid for one more index entry (eight in all) for nothing.
        Migration(context: "notification", version: 3, name: "drop_redundant_event_index", sql: """
            DROP INDEX notification.deliveries_of_event;
            """),
        // Room on each page for its e-mails' SENT updates. An update whose new version fits on the
        // old one's page is written to the WAL as the bytes that changed (status to sent_at, near
        // the row's start) instead of the whole row with its rendered title and body (~900 bytes
        // here): at fillfactor 100 the page was full when the SENT came, a fraction of a second
        // after planning, so every e-mail's row was written out twice. Pages written from now on.
        Migration(context: "notification", version: 4, name: "deliveries_room_for_sent", sql: """
            ALTER TABLE notification.deliveries SET (fillfactor = 70);
            """),
    ]
}

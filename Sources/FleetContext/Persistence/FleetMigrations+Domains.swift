public import KaroKarPostgres

extension FleetMigrations {
    // The availability records' single-column rules as domains, as Booking's migration 2
    // explains: PostgreSQL reads and plans a table's CHECKs again on every INSERT or UPDATE
    // (10.5 KB of node text per statement here, a reservation, release or allocation in about
    // 0.4 of the booking lives' calls), a domain's once per session. The status-and-source
    // pairing stays a CHECK across the two columns, written as one list of pairs (2.8 KB of
    // node text instead of 4.7 KB for five ORed pairs; the same six pairs): 4.8 KB of CHECKs per
    // statement are left. No rewrite.
    static let availabilityDomains = Migration(context: "fleet", version: 9, name: "availability_rules_as_domains", sql: """
        ALTER TABLE fleet.availability
            DROP CONSTRAINT availability_period_shape, DROP CONSTRAINT availability_status_check,
            DROP CONSTRAINT availability_source_type_check, DROP CONSTRAINT availability_source_fits;
        CREATE DOMAIN fleet.record_period AS tstzrange;
        CREATE DOMAIN fleet.record_status AS text;
        CREATE DOMAIN fleet.record_source AS text;
        ALTER TABLE fleet.availability
            ALTER COLUMN period TYPE fleet.record_period,
            ALTER COLUMN status TYPE fleet.record_status,
            ALTER COLUMN source_type TYPE fleet.record_source;
        -- Half-open [start, end) with a start; an open end only for suspensions and open-ended
        -- assignments (availability_open_end).
        ALTER DOMAIN fleet.record_period ADD CONSTRAINT record_period_started CHECK (
            NOT isempty(VALUE) AND NOT lower_inf(VALUE) AND lower_inc(VALUE) AND NOT upper_inc(VALUE));
        ALTER DOMAIN fleet.record_status ADD CONSTRAINT record_status_known CHECK (VALUE IN (
            'RESERVED', 'ALLOCATED', 'MAINTENANCE', 'SUSPENDED', 'BLOCKED'));
        ALTER DOMAIN fleet.record_source ADD CONSTRAINT record_source_known CHECK (VALUE IN (
            'BOOKING', 'ASSIGNMENT', 'MAINTENANCE', 'SUSPENSION', 'MANUAL_BLOCK'));
        ALTER TABLE fleet.availability ADD CONSTRAINT availability_source_fits CHECK (
            status || '/' || source_type IN ('RESERVED/BOOKING', 'ALLOCATED/BOOKING', 'ALLOCATED/ASSIGNMENT',
                                             'MAINTENANCE/MAINTENANCE', 'SUSPENDED/SUSPENSION', 'BLOCKED/MANUAL_BLOCK'));
        """)
}

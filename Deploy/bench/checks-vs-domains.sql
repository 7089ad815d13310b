-- Deploy/bench/checks-vs-domains.sh's tables: booking.bookings' single-column rules as CHECKs
-- (schema a, as before booking migration 2) and as domains (schema b, as after it), the rules
-- across columns as CHECKs in both; 1,000 rows each.
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE SCHEMA a; CREATE SCHEMA b;
CREATE TABLE a.bookings (
    id uuid PRIMARY KEY, vehicle_id uuid NOT NULL, corporate uuid NOT NULL,
    period tstzrange NOT NULL CHECK (NOT isempty(period) AND NOT lower_inf(period) AND NOT upper_inf(period) AND lower_inc(period) AND NOT upper_inc(period)),
    status text NOT NULL CHECK (status IN ('DRAFT', 'REQUESTED', 'APPROVED', 'REJECTED', 'ASSIGNED', 'ACTIVE', 'COMPLETED', 'TERMINATED', 'CANCELLED')),
    notes text CHECK (length(notes) <= 2000),
    handover_odometer_km bigint CHECK (handover_odometer_km >= 0),
    handover_fuel_percent int CHECK (handover_fuel_percent BETWEEN 0 AND 100),
    return_odometer_km bigint CHECK (return_odometer_km >= 0),
    return_fuel_percent int CHECK (return_fuel_percent BETWEEN 0 AND 100),
    termination_reason text CHECK (termination_reason IN ('VEHICLE_BREAKDOWN', 'ACCIDENT', 'VENDOR_RECALL', 'CORPORATE_RECALL', 'EMPLOYEE_EXIT', 'COMPLIANCE_VIOLATION', 'INSURANCE_EXPIRED', 'ADMIN_ACTION', 'OTHER')),
    terminated_by text, terminated_at timestamptz,
    version bigint NOT NULL DEFAULT 1 CHECK (version > 0),
    updated_at timestamptz NOT NULL,
    CONSTRAINT t CHECK ((status = 'TERMINATED') = (termination_reason IS NOT NULL AND terminated_at IS NOT NULL AND terminated_by IS NOT NULL)),
    CONSTRAINT o CHECK (return_odometer_km IS NULL OR return_odometer_km >= handover_odometer_km));
CREATE DOMAIN b.status AS text CHECK (VALUE IN ('DRAFT', 'REQUESTED', 'APPROVED', 'REJECTED', 'ASSIGNED', 'ACTIVE', 'COMPLETED', 'TERMINATED', 'CANCELLED'));
CREATE DOMAIN b.reason AS text CHECK (VALUE IN ('VEHICLE_BREAKDOWN', 'ACCIDENT', 'VENDOR_RECALL', 'CORPORATE_RECALL', 'EMPLOYEE_EXIT', 'COMPLIANCE_VIOLATION', 'INSURANCE_EXPIRED', 'ADMIN_ACTION', 'OTHER'));
CREATE DOMAIN b.period AS tstzrange CHECK (NOT isempty(VALUE) AND NOT lower_inf(VALUE) AND NOT upper_inf(VALUE) AND lower_inc(VALUE) AND NOT upper_inc(VALUE));
CREATE DOMAIN b.km AS bigint CHECK (VALUE >= 0);
CREATE DOMAIN b.pct AS int CHECK (VALUE BETWEEN 0 AND 100);
CREATE DOMAIN b.notes AS text CHECK (length(VALUE) <= 2000);
CREATE DOMAIN b.version AS bigint CHECK (VALUE > 0);
CREATE TABLE b.bookings (
    id uuid PRIMARY KEY, vehicle_id uuid NOT NULL, corporate uuid NOT NULL,
    period b.period NOT NULL, status b.status NOT NULL, notes b.notes,
    handover_odometer_km b.km, handover_fuel_percent b.pct, return_odometer_km b.km, return_fuel_percent b.pct,
    termination_reason b.reason, terminated_by text, terminated_at timestamptz,
    version b.version NOT NULL DEFAULT 1, updated_at timestamptz NOT NULL,
    CONSTRAINT t CHECK ((status = 'TERMINATED') = (termination_reason IS NOT NULL AND terminated_at IS NOT NULL AND terminated_by IS NOT NULL)),
    CONSTRAINT o CHECK (return_odometer_km IS NULL OR return_odometer_km >= handover_odometer_km));
INSERT INTO a.bookings (id, vehicle_id, corporate, period, status, updated_at)
  SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(g), 12, '0'))::uuid, gen_random_uuid(), gen_random_uuid(), tstzrange(now(), now() + interval '1 day'), 'REQUESTED', now() FROM generate_series(1, 1000) g;
INSERT INTO b.bookings SELECT * FROM a.bookings;

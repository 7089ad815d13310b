import Foundation
public import IdentityContext
import KaroKarProto
public import FleetContext
public import BookingContext
public import VerificationContext
public import NotificationContext
public import KaroKarRPC
public import KaroKarKernel

/// One configurable setting: its name in a config file, its `KAROKAR_*` environment variable and
/// its `--flag`, all derived from `name`.
public struct SettingSpec: Sendable {
    public let name: String
    public let help: String
    public let defaultValue: String

    public var environmentVariable: String {
        "KAROKAR_" + String(name.uppercased().map { $0 == "-" ? "_" : $0 })
    }

    public var flag: String { "--" + name }
}

/// Every server setting, validated. Sources in order of precedence: command-line flags, `KAROKAR_*`
/// environment variables, the JSON config file (`--config FILE`), defaults.
public struct ServerSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 7420
    public var logLevel = "info"
    public var limits = ServerLimits()
    /// A libpq URI or connection string; empty: run a private PostgreSQL under `dataDirectory`.
    public var databaseURL = ""
    /// Added to `databaseURL` as its password (``databaseConnectionString``); a secret.
    public var databasePassword: String?
    public var dataDirectory = ".karokar"
    public var databasePoolSize = 10
    /// SwiftNIO event loops (threads) serving the RPC and admin connections; default: the
    /// machine's cores (README, "Settings": fewer where PostgreSQL shares the machine).
    public var eventLoopThreads = ProcessInfo.processInfo.activeProcessorCount
    public var databaseAcquireTimeout: Duration = .seconds(5)
    public var migrateOnStart = true
    public var fleet = FleetOptions()
    public var booking = BookingOptions()
    /// The expiry sweep and the external providers (see Settings+Verification.swift).
    public var verification = VerificationOptions()
    /// Tokens, passwords, login throttling, the platform bootstrap (see Settings+Identity.swift).
    public var identity = IdentityConfiguration()
    /// The senders and their retries (see Settings+Notification.swift).
    public var notification = NotificationOptions()
    /// The event relay: attempts, fan-out, retention (issue 17).
    public var events = EventRelay.Options()
    /// The admin HTTP server, logs, health probe (see Settings+Operations.swift).
    public var operations = OperationsOptions()
    /// TLS on the RPC port (see Settings+TLS.swift).
    public var tls = TLSOptions()
    /// Spans and their export (see Settings+Tracing.swift).
    public var tracing = TracingOptions()

    public init() {}

    public static let specs: [SettingSpec] = serverSpecs + operationsSpecs + tracingSpecs + tlsSpecs + identitySpecs + verificationSpecs + notificationSpecs

    static let serverSpecs: [SettingSpec] = [
        SettingSpec(name: "host", help: "address to listen on", defaultValue: "127.0.0.1"),
        SettingSpec(name: "port", help: "TCP port to listen on (0 = any free port)", defaultValue: "7420"),
        SettingSpec(name: "log-level", help: "trace, debug, info, notice, warning, error or critical", defaultValue: "info"),
        SettingSpec(name: "database-url", help: "PostgreSQL URI; empty runs a private cluster under data-dir", defaultValue: ""),
        SettingSpec(name: "database-password", help: "password for database-url (environment or the -file variant only; a URL flag holding a password is refused)", defaultValue: ""),
        SettingSpec(name: "database-password-file", help: "file holding database-password", defaultValue: ""),
        SettingSpec(name: "data-dir", help: "where the private PostgreSQL cluster lives", defaultValue: ".karokar"),
        SettingSpec(name: "database-pool-size", help: "connections in the PostgreSQL pool", defaultValue: "10"),
        SettingSpec(name: "event-loop-threads", help: "SwiftNIO event loops (threads) serving connections (1 to 256); fewer than the cores leaves them to a PostgreSQL on the same machine", defaultValue: "the machine's cores"),
        SettingSpec(name: "database-acquire-timeout-ms", help: "how long a call waits for a pool connection before UNAVAILABLE / DATABASE_UNAVAILABLE", defaultValue: "5000"),
        SettingSpec(name: "migrate-on-start", help: "apply pending migrations at start (true or false)", defaultValue: "true"),
        SettingSpec(name: "fleet-activation-requires-verification", help: "activating a vehicle needs approved registration, insurance and fitness verifications (true or false; false only for development)", defaultValue: "true"),
        SettingSpec(name: "fleet-document-sweep-interval-s", help: "seconds between document expiry sweeps (0 = never)", defaultValue: "86400"),
        SettingSpec(name: "booking-request-ttl-s", help: "seconds a REQUESTED booking waits for the vendor before it expires", defaultValue: "172800"),
        SettingSpec(name: "booking-expiry-sweep-interval-s", help: "seconds between booking request expiry sweeps (0 = never)", defaultValue: "60"),
        SettingSpec(name: "booking-expiry-batch-size", help: "expired booking requests one sweep transaction cancels at most (1 to 10000); a sweep repeats until none is due", defaultValue: "100"),
        SettingSpec(name: "events-max-attempts", help: "attempts of an event handler before its delivery is dead (a dead letter)", defaultValue: "10"),
        SettingSpec(name: "events-claim-interval-ms", help: "least time between two claims of one consumer's delivery loop while its batches are not full (0 = claim whenever woken): fewer, larger claims under load, at most this much added lag", defaultValue: "20"),
        SettingSpec(name: "events-log-interval-ms", help: "least time between two steps of a log consumer (audit, notification planning, the dashboard's counts) while its batches are not full: larger, fewer steps under load, at most this much added lag", defaultValue: "100"),
        SettingSpec(name: "events-fan-out-interval-ms", help: "how often consumers' cursors move over the outbox, writing deliveries their publishers could not", defaultValue: "1000"),
        SettingSpec(name: "events-prune-interval-s", help: "seconds between retention passes over the outbox, processed records and idempotency keys (0 = never)", defaultValue: "300"),
        SettingSpec(name: "events-outbox-retention-days", help: "days an event stays in the outbox once every consumer has handled it", defaultValue: "30"),
        SettingSpec(name: "events-processed-retention-days", help: "days a consumer's processed record (its de-duplication of redeliveries) is kept", defaultValue: "7"),
        SettingSpec(name: "idempotency-retention-h", help: "hours an idempotency key and its first result are kept", defaultValue: "24"),
        SettingSpec(name: "max-frame-bytes", help: "largest frame accepted", defaultValue: "4194304"),
        SettingSpec(name: "max-request-bytes", help: "default cap on a request payload", defaultValue: "1048576"),
        SettingSpec(name: "max-calls-in-flight", help: "calls in flight per connection", defaultValue: "256"),
        SettingSpec(name: "max-metadata-bytes", help: "cap on one call's metadata", defaultValue: "8192"),
        SettingSpec(name: "max-connections", help: "connections open at once", defaultValue: "10000"),
        SettingSpec(name: "handshake-timeout-ms", help: "time allowed for HELLO after connecting", defaultValue: "5000"),
        SettingSpec(name: "idle-timeout-ms", help: "idle connections are drained after this", defaultValue: "300000"),
        SettingSpec(name: "frame-timeout-ms", help: "time allowed for one frame to arrive completely", defaultValue: "10000"),
        SettingSpec(name: "drain-timeout-ms", help: "longest graceful drain before closing anyway", defaultValue: "30000"),
        SettingSpec(name: "drain-delay-ms", help: "the grace period: on SIGTERM, how long /readyz fails and health checks answer NOT_SERVING while the server still serves, before it drains", defaultValue: "0"),
        SettingSpec(name: "outbound-high-water-bytes", help: "unsent reply bytes past which a connection stops reading (its peer does not read)", defaultValue: "262144"),
        SettingSpec(name: "outbound-low-water-bytes", help: "unsent reply bytes below which a stopped connection reads again", defaultValue: "65536"),
        SettingSpec(name: "outbound-stall-timeout-ms", help: "a connection stopped this long by a peer that does not read is closed", defaultValue: "30000"),
    ]

    /// The settings that must agree with each other.
    func checkLimits() throws {
        guard limits.outboundLowWaterBytes <= limits.outboundHighWaterBytes else {
            throw Invalid(description: "outbound-low-water-bytes (\(limits.outboundLowWaterBytes)) must not exceed outbound-high-water-bytes (\(limits.outboundHighWaterBytes))")
        }
    }

    /// A setting that could not be used, with where it came from.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Resolves settings from the three sources.
    public static func resolve(
        flags: [String: String], environment: [String: String], configFile: String?, readFile: (String) throws -> [UInt8]
    ) throws -> ServerSettings {
        var values: [String: (value: String, source: String)] = [:]
        if let configFile {
            for (key, value) in try fileValues(configFile, readFile: readFile) {
                values[key] = (value, "\(configFile): \(key)")
            }
        }
        try checkFlags(flags)
        for spec in specs {
            if let value = environment[spec.environmentVariable] { values[spec.name] = (value, spec.environmentVariable) }
            if let value = flags[spec.name] { values[spec.name] = (value, spec.flag) }
        }
        try readSecretFiles(&values, readFile: readFile)
        var settings = ServerSettings()
        for (name, entry) in values.sorted(by: { $0.key < $1.key }) {
            try settings.apply(name, entry.value, source: entry.source)
        }
        try settings.checkLimits()
        try settings.checkOperations()
        try settings.checkTLS(readFile: readFile)
        if settings.databasePassword != nil && settings.databaseURL.isEmpty {
            throw Invalid(description: "database-password is set but database-url is empty (the private cluster needs none)")
        }
        try settings.checkVerificationProvider()
        try settings.checkNotification()
        try settings.checkProductionRequirements()
        return settings
    }

    private static func fileValues(_ path: String, readFile: (String) throws -> [UInt8]) throws -> [(String, String)] {
        let json: JSONValue
        do {
            json = try JSONParser.parse(try readFile(path))
        } catch {
            throw Invalid(description: "cannot read config file \(path): \(error)")
        }
        guard case .object(let members) = json else {
            throw Invalid(description: "config file \(path) must hold a JSON object")
        }
        return try members.map { member in
            guard specs.contains(where: { $0.name == member.key }) else {
                throw Invalid(description: "\(path): unknown setting \"\(member.key)\"")
            }
            switch member.value {
            case .string(let text), .number(let text): return (member.key, text)
            case .bool(let flag): return (member.key, flag ? "true" : "false")
            default: throw Invalid(description: "\(path): \(member.key) must be a string or a number")
            }
        }
    }

    mutating func apply(_ name: String, _ value: String, source: String) throws {
        func integer(_ range: ClosedRange<Int>) throws -> Int {
            guard let number = Int(value), range.contains(number) else {
                throw Invalid(description: "\(source): \"\(value)\" is not an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return number
        }
        func milliseconds() throws -> Duration { .milliseconds(try integer(1...86_400_000)) }
        switch name {
        case "host":
            guard !value.isEmpty else { throw Invalid(description: "\(source): host must not be empty") }
            host = value
        case "port": port = try integer(0...65535)
        case "database-url": databaseURL = value
        case "database-password": databasePassword = value.isEmpty ? nil : value
        case "data-dir":
            guard !value.isEmpty else { throw Invalid(description: "\(source): data-dir must not be empty") }
            dataDirectory = value
        case "database-pool-size": databasePoolSize = try integer(1...500)
        case "database-acquire-timeout-ms": databaseAcquireTimeout = try milliseconds()
        case "event-loop-threads": eventLoopThreads = try integer(1...256)
        case "migrate-on-start":
            guard value == "true" || value == "false" else { throw Invalid(description: "\(source): expected true or false") }
            migrateOnStart = value == "true"
        case "fleet-activation-requires-verification":
            guard value == "true" || value == "false" else { throw Invalid(description: "\(source): expected true or false") }
            fleet.activationRequiresVerification = value == "true"
        case "fleet-document-sweep-interval-s":
            let seconds = try integer(0...31_536_000)
            fleet.documentSweepInterval = seconds == 0 ? nil : .seconds(seconds)
        case "booking-request-ttl-s": booking.requestTimeToLive = .seconds(try integer(60...31_536_000))
        case "booking-expiry-sweep-interval-s":
            let seconds = try integer(0...86_400)
            booking.expirySweepInterval = seconds == 0 ? nil : .seconds(seconds)
        case "booking-expiry-batch-size": booking.expiryBatchSize = try integer(1...10_000)
        case "events-max-attempts": events.maximumAttempts = try integer(1...1000)
        case "events-claim-interval-ms": events.claimInterval = .milliseconds(try integer(0...1000))
        case "events-log-interval-ms": events.logInterval = .milliseconds(try integer(1...1000))
        case "events-fan-out-interval-ms": events.fanOutInterval = .milliseconds(try integer(10...3_600_000))
        case "events-prune-interval-s":
            let seconds = try integer(0...86_400)
            events.pruneInterval = seconds == 0 ? nil : .seconds(seconds)
        case "events-outbox-retention-days": events.retention.outbox = .seconds(86_400 * (try integer(1...3650)))
        case "events-processed-retention-days": events.retention.processed = .seconds(86_400 * (try integer(1...3650)))
        case "idempotency-retention-h": events.retention.idempotencyKeys = .seconds(3600 * (try integer(1...8760)))
        case "log-level":
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains(value) else { throw Invalid(description: "\(source): log level must be one of \(levels.joined(separator: ", "))") }
            logLevel = value
        case "max-frame-bytes": limits.maximumFrameBytes = try integer(1024...FrameLayout.absoluteMaximumFrameBytes)
        case "max-request-bytes": limits.maximumRequestBytes = try integer(0...FrameLayout.absoluteMaximumFrameBytes)
        case "max-calls-in-flight": limits.maximumCallsInFlight = try integer(1...65536)
        case "max-metadata-bytes": limits.maximumMetadataBytes = try integer(0...1_048_576)
        case "max-connections": limits.maximumConnections = try integer(1...1_000_000)
        case "handshake-timeout-ms": limits.handshakeTimeout = try milliseconds()
        case "idle-timeout-ms": limits.idleTimeout = try milliseconds()
        case "frame-timeout-ms": limits.frameTimeout = try milliseconds()
        case "drain-timeout-ms": limits.drainTimeout = try milliseconds()
        case "drain-delay-ms": limits.drainDelay = .milliseconds(try integer(0...3_600_000))
        case "outbound-high-water-bytes": limits.outboundHighWaterBytes = try integer(1024...1_073_741_824)
        case "outbound-low-water-bytes": limits.outboundLowWaterBytes = try integer(0...1_073_741_824)
        case "outbound-stall-timeout-ms": limits.outboundStallTimeout = try milliseconds()
        default:
            if try applyOperations(name, value, source: source) { return }
            if try applyTracing(name, value, source: source) { return }
            if try applyTLS(name, value, source: source) { return }
            if try applyVerification(name, value, source: source) { return }
            if try applyNotification(name, value, source: source) { return }
            try applyIdentity(name, value, source: source)
        }
    }
}

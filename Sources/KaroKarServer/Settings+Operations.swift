/// How the process is watched and run (issue 20): the admin HTTP server (health for load
/// balancers, metrics), the log format, the access log, the database health probe.
public struct OperationsOptions: Sendable, Hashable {
    /// The admin HTTP server's port; nil: no admin server (the default).
    public var adminPort: Int?
    /// Loopback by default: metrics and health are for the operator's network, not the public one.
    public var adminHost = "127.0.0.1"
    /// `/metrics` and the RPC server's measurements (only with an admin port).
    public var metrics = true
    public var logFormat = LogFormat.text
    /// One `info` line per call answered by a handler: method, status, domain code, duration,
    /// caller organization, request id.
    public var accessLog = false
    /// How often the database is checked with `SELECT 1` for `/readyz` and `HealthService`.
    public var healthCheckInterval: Duration = .seconds(1)
    /// How often the database-derived gauges (outbox backlog, consumer lag, dead letters) are refreshed.
    public var metricsSampleInterval: Duration = .seconds(10)

    public init() {}

    /// Whether the RPC server measures its calls (an admin server that publishes them).
    public var measures: Bool { adminPort != nil && metrics }
}

/// How log lines are written to standard error.
public enum LogFormat: String, Sendable, Hashable, CaseIterable {
    /// swift-log's default: `timestamp level label: metadata message`.
    case text
    /// One JSON object per line: `timestamp`, `level`, `label`, `message`, `source`, and each
    /// metadata entry as a string member.
    case json
}

extension ServerSettings {
    static let operationsSpecs: [SettingSpec] = [
        SettingSpec(name: "admin-host", help: "address of the admin HTTP server (/livez, /readyz, /metrics); loopback by default", defaultValue: "127.0.0.1"),
        SettingSpec(name: "admin-port", help: "port of the admin HTTP server (off = none; 0 = any free port)", defaultValue: "off"),
        SettingSpec(name: "metrics", help: "publish Prometheus metrics at /metrics on the admin server (true or false)", defaultValue: "true"),
        SettingSpec(name: "log-format", help: "text, or json (one object per line)", defaultValue: "text"),
        SettingSpec(name: "access-log", help: "log one line per call: method, status, domain code, duration, caller organization, request id (true or false)", defaultValue: "false"),
        SettingSpec(name: "health-check-interval-ms", help: "how often the database is checked for /readyz and HealthService", defaultValue: "1000"),
        SettingSpec(name: "metrics-sample-interval-ms", help: "how often outbox backlog, consumer lag and dead letters are read from the database", defaultValue: "10000"),
    ]

    /// Applies an operations setting; false for other names.
    mutating func applyOperations(_ name: String, _ value: String, source: String) throws -> Bool {
        func integer(_ range: ClosedRange<Int>) throws -> Int {
            guard let number = Int(value), range.contains(number) else {
                throw Invalid(description: "\(source): \"\(value)\" is not an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return number
        }
        func flag() throws -> Bool {
            guard value == "true" || value == "false" else { throw Invalid(description: "\(source): expected true or false") }
            return value == "true"
        }
        switch name {
        case "admin-host":
            guard !value.isEmpty else { throw Invalid(description: "\(source): admin-host must not be empty") }
            operations.adminHost = value
        case "admin-port":
            if value == "off" {
                operations.adminPort = nil
            } else {
                guard let port = Int(value), (0...65535).contains(port) else {
                    throw Invalid(description: "\(source): \"\(value)\" is not off or a port in 0...65535")
                }
                operations.adminPort = port
            }
        case "metrics": operations.metrics = try flag()
        case "log-format":
            guard let format = LogFormat(rawValue: value) else {
                throw Invalid(description: "\(source): log format must be one of \(LogFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            operations.logFormat = format
        case "access-log": operations.accessLog = try flag()
        case "health-check-interval-ms": operations.healthCheckInterval = .milliseconds(try integer(50...600_000))
        case "metrics-sample-interval-ms": operations.metricsSampleInterval = .milliseconds(try integer(100...3_600_000))
        default: return false
        }
        return true
    }

    /// An admin server on the RPC server's own address and port cannot work.
    func checkOperations() throws {
        if let adminPort = operations.adminPort, adminPort != 0, adminPort == port, operations.adminHost == host {
            throw Invalid(description: "admin-port (\(adminPort)) must differ from port on the same host")
        }
    }
}

/// Tracing (issue 20, README "Tracing"): server spans continuing the callers' W3C traces, SQL
/// and event-delivery spans, exported with OTLP/HTTP (JSON) when an endpoint is set.
public struct TracingOptions: Sendable, Hashable {
    /// The OpenTelemetry collector's OTLP/HTTP base URL (`http://127.0.0.1:4318`); nil: no
    /// tracing at all (the default): no spans are made, `traceparent` is not read.
    public var otlpEndpoint: String?
    /// The resource's `service.name`.
    public var serviceName = "karokar-server"
    /// Share of the traces this server starts (calls without a valid `traceparent`) that are
    /// recorded; calls with one follow its sampled flag.
    public var sampleRatio = 1.0

    public init() {}
}

extension ServerSettings {
    static let tracingSpecs: [SettingSpec] = [
        SettingSpec(name: "tracing-otlp-endpoint", help: "OTLP/HTTP collector URL (http://host:4318) to export traces to; empty = no tracing", defaultValue: ""),
        SettingSpec(name: "tracing-service-name", help: "service.name of the exported spans", defaultValue: "karokar-server"),
        SettingSpec(name: "tracing-sample-ratio", help: "share (0 to 1) of the traces the server starts that are recorded; calls with a traceparent follow its sampled flag", defaultValue: "1"),
    ]

    /// Applies a tracing setting; false for other names.
    mutating func applyTracing(_ name: String, _ value: String, source: String) throws -> Bool {
        switch name {
        case "tracing-otlp-endpoint":
            if value.isEmpty {
                tracing.otlpEndpoint = nil
            } else {
                let lowered = value.lowercased()
                guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://"), value.utf8.count <= 2048,
                      !value.contains(where: { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }),
                      let host = value.split(separator: "/", omittingEmptySubsequences: false).dropFirst(2).first, !host.isEmpty else {
                    throw Invalid(description: "\(source): \"\(value)\" is not an http:// or https:// URL with a host")
                }
                tracing.otlpEndpoint = value
            }
        case "tracing-service-name":
            guard (1...256).contains(value.utf8.count) else { throw Invalid(description: "\(source): tracing-service-name must be 1 to 256 bytes") }
            tracing.serviceName = value
        case "tracing-sample-ratio":
            guard let ratio = Double(value), ratio.isFinite, (0...1).contains(ratio) else {
                throw Invalid(description: "\(source): \"\(value)\" is not a number from 0 to 1")
            }
            tracing.sampleRatio = ratio
        default: return false
        }
        return true
    }
}

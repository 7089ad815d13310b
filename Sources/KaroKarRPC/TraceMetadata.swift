public import Instrumentation

/// Reads `traceparent` and `tracestate` (any key, in fact) from a call's metadata, for an
/// `Instrument`'s `extract` (the server's tracer).
public struct MetadataTraceExtractor: Extractor {
    public init() {}

    public func extract(key: String, from carrier: Metadata) -> String? {
        carrier[key]
    }
}

/// Writes `traceparent` and `tracestate` into a call's metadata, for an `Instrument`'s `inject`
/// (``RPCClient``).
public struct MetadataTraceInjector: Injector {
    public init() {}

    public func inject(_ value: String, forKey key: String, into carrier: inout Metadata) {
        guard Metadata.isValidKey(key) else { return }
        carrier[key] = value
    }
}

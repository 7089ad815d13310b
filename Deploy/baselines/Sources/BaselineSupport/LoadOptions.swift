public import ArgumentParser

/// The knobs every baseline load generator takes, named as karokar-bench names them.
public struct LoadOptions: ParsableArguments, Sendable {
    @Option(help: "Server address, HOST:PORT.") public var address = "127.0.0.1:7700"
    @Option(help: "Calls in flight at once, over all connections.") public var concurrency = 64
    @Option(help: "TCP connections.") public var connections = 1
    @Option(help: "Measured seconds.") public var duration = 10.0
    @Option(help: "Warm-up seconds, not recorded.") public var warmup = 1.0
    @Option(help: "Payload bytes per call.") public var payloadBytes = 64
    @Option(help: "Also report the CPU time of this server process.") public var serverPid: Int32?

    public init() {}

    public var host: String { String(address.split(separator: ":").first ?? "127.0.0.1") }
    public var port: Int { Int(address.split(separator: ":").last ?? "") ?? 7700 }

    public func validate() throws {
        guard concurrency >= connections, connections >= 1, duration > 0, warmup >= 0, payloadBytes >= 0 else {
            throw ValidationError("need concurrency >= connections >= 1, duration > 0, warmup >= 0")
        }
    }
}

/// Options of the baseline servers.
public struct ServeOptions: ParsableArguments, Sendable {
    @Option(help: "Port to listen on (127.0.0.1).") public var port = 7700

    public init() {}
}

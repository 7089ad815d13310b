/// The JSON report, with the keys karokar-bench uses, so Deploy/compare-rpc.sh reads both alike.
public struct BaselineReport {
    public let call: String
    public let options: LoadOptions
    public let recorder: LatencyRecorder
    public let measureFrom: UInt64
    public let cpuBefore: CPUSample
    public let cpuAfter: CPUSample

    public init(call: String, options: LoadOptions, recorder: LatencyRecorder, measureFrom: UInt64, cpuBefore: CPUSample, cpuAfter: CPUSample) {
        self.call = call
        self.options = options
        self.recorder = recorder
        self.measureFrom = measureFrom
        self.cpuBefore = cpuBefore
        self.cpuAfter = cpuAfter
    }

    public var json: String {
        let histogram = recorder.histogram
        let seconds = Double(recorder.lastCompletion &- measureFrom) / 1e9
        let requests = recorder.count
        let cpu = cpuAfter.time - cpuBefore.time
        func perCall(_ value: Double?) -> String {
            guard let value, requests > 0 else { return "null" }
            return String(value / Double(requests) * 1e6)
        }
        let quantiles = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)]
        let latency = [("min", Double(histogram.minimum) / 1000), ("mean", histogram.mean / 1000)]
            + quantiles.map { ($0.0, Double(histogram.value(atQuantile: $0.1)) / 1000) } + [("max", Double(histogram.maximum) / 1000)]
        let statuses = [("OK", requests - recorder.failures), ("ERROR", recorder.failures)].filter { $0.1 > 0 }
        return """
            {
              "call": "\(call)",
              "concurrency": \(options.concurrency),
              "connections": \(options.connections),
              "requests": \(requests),
              "seconds": \(seconds),
              "rate": \(seconds > 0 ? Double(requests) / seconds : 0),
              "latencyMicros": {\(latency.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", "))},
              "statuses": {\(statuses.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", "))},
              "cpu": {"loadGeneratorMicrosPerCall": \(perCall(cpu.loadGenerator)), "serverMicrosPerCall": \(perCall(cpu.server))}
            }
            """
    }
}

/// Latencies and outcomes of one worker; merged at the end of a run.
public struct LatencyRecorder: Sendable {
    var histogram = LatencyHistogram()
    public private(set) var failures = 0
    public private(set) var lastCompletion: UInt64 = 0

    public init() {}

    public var count: Int { Int(histogram.count) }

    public mutating func record(nanoseconds: UInt64, at now: UInt64) {
        histogram.record(nanoseconds: nanoseconds)
        lastCompletion = max(lastCompletion, now)
    }

    public mutating func recordFailure(nanoseconds: UInt64, at now: UInt64) {
        failures += 1
        record(nanoseconds: nanoseconds, at: now)
    }

    public mutating func merge(_ other: LatencyRecorder) {
        histogram.merge(other.histogram)
        failures += other.failures
        lastCompletion = max(lastCompletion, other.lastCompletion)
    }
}

/// CPU seconds of this process and of the server, for per-call costs.
public struct CPUSample: Sendable {
    let time: CPUTime

    public static func now(serverPID: Int32?) -> CPUSample {
        CPUSample(time: .sample(serverPID: serverPID))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic nanoseconds.
public func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

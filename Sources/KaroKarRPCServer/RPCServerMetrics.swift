public import CoreMetrics
public import KaroKarRPC
public import KaroKarMessages
import Synchronization

/// The RPC server's metrics. Names follow Prometheus conventions:
///
/// - `karokar_rpc_calls_total{method, code}`: calls answered, by method and status code;
/// - `karokar_rpc_call_duration_seconds{method}`: histogram, from the read that brought the CALL
///   (immediate calls) or the call's task start, to its REPLY;
/// - `karokar_rpc_calls_refused_total{reason}`: CALLs refused before a method was chosen
///   (`draining`, `too_many_calls`, `bad_call`: an unknown method, a bad envelope, a deadline
///   already past);
/// - `karokar_rpc_calls_in_flight`: calls running in tasks (immediate calls never wait);
/// - `karokar_rpc_connections`, `karokar_rpc_connections_opened_total`;
/// - `karokar_rpc_received_bytes_total`, `karokar_rpc_sent_bytes_total`.
///
/// What happens per call or per read and write (the calls, their durations, the bytes) is not
/// recorded through swift-metrics' shared handles: every thread adds to a shard of its own
/// (``CallStatistics``: an uncontended lock and a few array additions, no allocation, no
/// shared cache line), and the shards are summed when `/metrics` is read (``emit(into:)``).
/// The rest (connections, refusals, calls in flight) goes through the swift-metrics `factory`
/// (the composition root passes the Prometheus one; nil in ``RPCServer/Configuration/metrics``
/// measures nothing and costs one branch per call).
public final class RPCServerMetrics: Sendable {
    public static let callsLabel = "karokar_rpc_calls_total"
    public static let durationLabel = "karokar_rpc_call_duration_seconds"
    /// Latency buckets of RPC calls, from 50 µs (Echo on the event loop) to 10 s.
    public static let defaultBuckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(10),
    ]

    let factory: any MetricsFactory
    let connections: Meter
    let connectionsOpened: Counter
    let callsInFlight: Meter
    let refusedDraining: Counter
    let refusedTooMany: Counter
    let refusedBadCall: Counter
    let statistics: CallStatistics

    public init(factory: any MetricsFactory, buckets: [Duration] = RPCServerMetrics.defaultBuckets) {
        self.factory = factory
        statistics = CallStatistics(buckets: buckets)
        connections = Meter(label: "karokar_rpc_connections", factory: factory)
        connectionsOpened = Counter(label: "karokar_rpc_connections_opened_total", factory: factory)
        callsInFlight = Meter(label: "karokar_rpc_calls_in_flight", factory: factory)
        refusedDraining = Counter(label: "karokar_rpc_calls_refused_total", dimensions: [("reason", "draining")], factory: factory)
        refusedTooMany = Counter(label: "karokar_rpc_calls_refused_total", dimensions: [("reason", "too_many_calls")], factory: factory)
        refusedBadCall = Counter(label: "karokar_rpc_calls_refused_total", dimensions: [("reason", "bad_call")], factory: factory)
    }

    /// The method's series, resolved once (when the server is built): recording is by index.
    func method(_ path: String) -> MethodMetrics {
        MethodMetrics(index: statistics.register(path), statistics: statistics)
    }

    @inline(__always)
    func received(_ bytes: Int) {
        statistics.addBytes(received: bytes, sent: 0)
    }

    @inline(__always)
    func sent(_ bytes: Int) {
        statistics.addBytes(received: 0, sent: bytes)
    }

    /// Appends the per-call series (calls, durations, bytes) in Prometheus' text format.
    public func emit(into buffer: inout [UInt8]) {
        statistics.emit(into: &buffer)
    }

    /// The name of `code` as in the protocol (`OK`, `NOT_FOUND`, ...), for labels and logs.
    public static func name(of code: RPCCode) -> String {
        switch code {
        case .ok: "OK"
        case .cancelled: "CANCELLED"
        case .unknown: "UNKNOWN"
        case .invalidArgument: "INVALID_ARGUMENT"
        case .deadlineExceeded: "DEADLINE_EXCEEDED"
        case .notFound: "NOT_FOUND"
        case .alreadyExists: "ALREADY_EXISTS"
        case .permissionDenied: "PERMISSION_DENIED"
        case .resourceExhausted: "RESOURCE_EXHAUSTED"
        case .failedPrecondition: "FAILED_PRECONDITION"
        case .aborted: "ABORTED"
        case .outOfRange: "OUT_OF_RANGE"
        case .unimplemented: "UNIMPLEMENTED"
        case .internal: "INTERNAL"
        case .unavailable: "UNAVAILABLE"
        case .dataLoss: "DATA_LOSS"
        case .unauthenticated: "UNAUTHENTICATED"
        case .unrecognized: "UNRECOGNIZED"
        }
    }
}

/// One method's series: its index in ``CallStatistics``.
struct MethodMetrics: Sendable {
    let index: Int
    let statistics: CallStatistics

    @inline(__always)
    func record(_ code: RPCCode, nanoseconds: Int64) {
        statistics.record(method: index, code: code, nanoseconds: nanoseconds)
    }
}

public import CoreMetrics
public import KaroKarRPC
public import KaroKarMessages
import Synchronization

/// The RPC server's metrics, made through a swift-metrics factory (the composition root passes
/// the Prometheus one; nil in ``RPCServer/Configuration/metrics`` measures nothing and costs one
/// branch per call). Names follow Prometheus conventions:
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
/// Every series is made once (the method's, when the server is built; a status code's, the
/// first time a method answers it), so recording is an atomic add, a lock-protected histogram
/// update and one clock read per call.
public final class RPCServerMetrics: Sendable {
    public static let callsLabel = "karokar_rpc_calls_total"
    public static let durationLabel = "karokar_rpc_call_duration_seconds"

    let factory: any MetricsFactory
    let connections: Meter
    let connectionsOpened: Counter
    let callsInFlight: Meter
    let bytesReceived: Counter
    let bytesSent: Counter
    let refusedDraining: Counter
    let refusedTooMany: Counter
    let refusedBadCall: Counter

    public init(factory: any MetricsFactory) {
        self.factory = factory
        connections = Meter(label: "karokar_rpc_connections", factory: factory)
        connectionsOpened = Counter(label: "karokar_rpc_connections_opened_total", factory: factory)
        callsInFlight = Meter(label: "karokar_rpc_calls_in_flight", factory: factory)
        bytesReceived = Counter(label: "karokar_rpc_received_bytes_total", factory: factory)
        bytesSent = Counter(label: "karokar_rpc_sent_bytes_total", factory: factory)
        refusedDraining = Counter(label: "karokar_rpc_calls_refused_total", dimensions: [("reason", "draining")], factory: factory)
        refusedTooMany = Counter(label: "karokar_rpc_calls_refused_total", dimensions: [("reason", "too_many_calls")], factory: factory)
        refusedBadCall = Counter(label: "karokar_rpc_calls_refused_total", dimensions: [("reason", "bad_call")], factory: factory)
    }

    func method(_ path: String) -> MethodMetrics {
        MethodMetrics(path: path, factory: factory)
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

/// One method's series.
final class MethodMetrics: Sendable {
    let path: String
    let factory: any MetricsFactory
    let duration: CoreMetrics.Timer
    let ok: Counter
    /// The other codes' counters, made on first use (most methods never answer most codes).
    let others = Mutex<[RPCCode: Counter]>([:])

    init(path: String, factory: any MetricsFactory) {
        self.path = path
        self.factory = factory
        duration = CoreMetrics.Timer(label: RPCServerMetrics.durationLabel, dimensions: [("method", path)], factory: factory)
        ok = Counter(label: RPCServerMetrics.callsLabel, dimensions: [("method", path), ("code", "OK")], factory: factory)
    }

    func record(_ code: RPCCode, nanoseconds: Int64) {
        duration.recordNanoseconds(nanoseconds)
        if code == .ok {
            ok.increment()
            return
        }
        let counter = others.withLock { counters in
            if let counter = counters[code] { return counter }
            let counter = Counter(
                label: RPCServerMetrics.callsLabel, dimensions: [("method", path), ("code", RPCServerMetrics.name(of: code))], factory: factory
            )
            counters[code] = counter
            return counter
        }
        counter.increment()
    }
}

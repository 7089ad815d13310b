import KaroKarRPC
import NIOPosix
import Synchronization

/// The per-call series of ``RPCServerMetrics`` (calls by method and code, a duration histogram
/// per method, bytes in and out), sharded by thread and summed when `/metrics` is read.
///
/// Recording through swift-metrics' Prometheus handles cost +27.5% server CPU per Echo call:
/// every call of every event loop took the same histogram lock, walked all its buckets
/// comparing 128-bit durations, and did atomic adds on counters (and byte counters, per read and
/// write) shared by all loops, so the cores kept taking each other's cache lines. Here each
/// thread gets a shard of its own (a stable index per thread, so event loops never share one
/// unless there are more threads than shards): recording is one thread-specific read, an
/// uncontended lock, a bucket search over integers and three array additions, with no allocation
/// (a shard's arrays grow only when a method is first recorded on that thread).
final class CallStatistics: Sendable {
    static let shardCount = 32
    /// Status codes 0...16; a code outside them counts as UNKNOWN (2).
    static let codes = 17

    struct ShardState {
        /// `method * codes + code`.
        var calls: [Int] = []
        /// `method * (bounds + 1) + bucket`, not cumulative; the last bucket of a method is +Inf.
        var buckets: [Int] = []
        var nanoseconds: [Int64] = []
        var bytesReceived = 0
        var bytesSent = 0

        mutating func reserve(methods: Int, bucketsPerMethod: Int) {
            guard nanoseconds.count < methods else { return }
            calls += Array(repeating: 0, count: (methods - nanoseconds.count) * CallStatistics.codes)
            buckets += Array(repeating: 0, count: (methods - nanoseconds.count) * bucketsPerMethod)
            nanoseconds += Array(repeating: 0, count: methods - nanoseconds.count)
        }
    }

    final class Shard: Sendable {
        let state = Mutex(ShardState())
    }

    /// Upper bounds, in nanoseconds, ascending.
    let bounds: [Int64]
    private let boundTexts: [String]
    private let shards: [Shard]
    private let paths = Mutex<[String]>([])

    init(buckets: [Duration]) {
        let sorted = buckets.sorted()
        bounds = sorted.map { Int64(clamping: $0.components.seconds) &* 1_000_000_000 &+ $0.components.attoseconds / 1_000_000_000 }
        boundTexts = bounds.map { Self.seconds(nanoseconds: $0) }
        shards = (0..<Self.shardCount).map { _ in Shard() }
    }

    /// A method's index, for ``record(method:code:nanoseconds:)``.
    func register(_ path: String) -> Int {
        paths.withLock { paths in
            if let index = paths.firstIndex(of: path) { return index }
            paths.append(path)
            return paths.count - 1
        }
    }

    @inline(__always)
    private var shard: Shard {
        shards[ThreadIndex.current & (Self.shardCount - 1)]
    }

    func record(method: Int, code: RPCCode, nanoseconds: Int64) {
        let raw = Int(code.rawValue)
        let codeIndex = raw >= 0 && raw < Self.codes ? raw : 2
        var bucket = 0
        while bucket < bounds.count && bounds[bucket] < nanoseconds { bucket += 1 }
        let perMethod = bounds.count + 1
        shard.state.withLock { state in
            if method >= state.nanoseconds.count { state.reserve(methods: method + 1, bucketsPerMethod: perMethod) }
            state.calls[method &* Self.codes &+ codeIndex] &+= 1
            state.buckets[method &* perMethod &+ bucket] &+= 1
            state.nanoseconds[method] &+= nanoseconds
        }
    }

    /// A connection's tally of immediate calls, all `nanoseconds` long, and the bytes it read.
    func record(_ tally: CallTally, nanoseconds: Int64) {
        var bucket = 0
        while bucket < bounds.count && bounds[bucket] < nanoseconds { bucket += 1 }
        let perMethod = bounds.count + 1
        var methods = 0
        for entry in tally.entries where entry.method >= methods { methods = entry.method + 1 }
        shard.state.withLock { state in
            state.bytesReceived &+= tally.bytesReceived
            if methods > state.nanoseconds.count { state.reserve(methods: methods, bucketsPerMethod: perMethod) }
            for entry in tally.entries {
                let raw = Int(entry.code)
                let codeIndex = raw >= 0 && raw < Self.codes ? raw : 2
                state.calls[entry.method &* Self.codes &+ codeIndex] &+= entry.count
                state.buckets[entry.method &* perMethod &+ bucket] &+= entry.count
                state.nanoseconds[entry.method] &+= nanoseconds &* Int64(entry.count)
            }
        }
    }

    func addBytes(received: Int, sent: Int) {
        shard.state.withLock { state in
            state.bytesReceived &+= received
            state.bytesSent &+= sent
        }
    }

    /// Every shard summed.
    func total() -> ShardState {
        let methods = paths.withLock { $0.count }
        var total = ShardState()
        total.reserve(methods: methods, bucketsPerMethod: bounds.count + 1)
        for shard in shards {
            shard.state.withLock { state in
                for index in state.calls.indices where index < total.calls.count { total.calls[index] &+= state.calls[index] }
                for index in state.buckets.indices where index < total.buckets.count { total.buckets[index] &+= state.buckets[index] }
                for index in state.nanoseconds.indices where index < total.nanoseconds.count { total.nanoseconds[index] &+= state.nanoseconds[index] }
                total.bytesReceived &+= state.bytesReceived
                total.bytesSent &+= state.bytesSent
            }
        }
        return total
    }

    /// The series in Prometheus' text exposition format (version 0.0.4). Every method registered
    /// gets its OK counter and its histogram (zero until called), other codes once answered.
    func emit(into buffer: inout [UInt8]) {
        let paths = self.paths.withLock { $0 }
        let total = total()
        let perMethod = bounds.count + 1
        var text = ""
        text.reserveCapacity(paths.count * 2048)
        text += "# HELP \(RPCServerMetrics.callsLabel) calls answered, by method and status code\n"
        text += "# TYPE \(RPCServerMetrics.callsLabel) counter\n"
        for (method, path) in paths.enumerated() {
            let label = Self.escape(path)
            for code in 0..<Self.codes {
                let count = total.calls[method * Self.codes + code]
                guard code == 0 || count > 0 else { continue }
                let name = RPCServerMetrics.name(of: RPCCode(rawValue: Int32(code)))
                text += "\(RPCServerMetrics.callsLabel){method=\"\(label)\",code=\"\(name)\"} \(count)\n"
            }
        }
        let duration = RPCServerMetrics.durationLabel
        text += "# HELP \(duration) time from the CALL's arrival (or its task's start) to the REPLY\n"
        text += "# TYPE \(duration) histogram\n"
        for (method, path) in paths.enumerated() {
            let label = Self.escape(path)
            var cumulative = 0
            for bucket in 0..<perMethod {
                cumulative += total.buckets[method * perMethod + bucket]
                let bound = bucket < bounds.count ? boundTexts[bucket] : "+Inf"
                text += "\(duration)_bucket{method=\"\(label)\",le=\"\(bound)\"} \(cumulative)\n"
            }
            text += "\(duration)_sum{method=\"\(label)\"} \(Self.seconds(nanoseconds: total.nanoseconds[method]))\n"
            text += "\(duration)_count{method=\"\(label)\"} \(cumulative)\n"
        }
        text += "# HELP karokar_rpc_received_bytes_total bytes read from RPC connections\n"
        text += "# TYPE karokar_rpc_received_bytes_total counter\n"
        text += "karokar_rpc_received_bytes_total \(total.bytesReceived)\n"
        text += "# HELP karokar_rpc_sent_bytes_total bytes written to RPC connections\n"
        text += "# TYPE karokar_rpc_sent_bytes_total counter\n"
        text += "karokar_rpc_sent_bytes_total \(total.bytesSent)\n"
        buffer.append(contentsOf: text.utf8)
    }

    static func seconds(nanoseconds: Int64) -> String {
        let whole = nanoseconds / 1_000_000_000
        var fraction = String(nanoseconds % 1_000_000_000)
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return fraction.isEmpty ? "\(whole)" : "\(whole).\(fraction)"
    }

    static func escape(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}

/// A small number per thread, stable for the thread's life: which shard it records into.
enum ThreadIndex {
    private final class Box: Sendable {
        let value: Int
        init(_ value: Int) { self.value = value }
    }

    private static let variable = ThreadSpecificVariable<Box>()
    private static let next = Atomic<Int>(0)

    @inline(__always)
    static var current: Int {
        if let box = variable.currentValue { return box.value }
        let box = Box(next.wrappingAdd(1, ordering: .relaxed).oldValue)
        variable.currentValue = box
        return box.value
    }
}

/// What a connection counts between two recordings: immediate calls by method and code, and the
/// bytes it read. Its storage is kept across recordings, so counting allocates nothing.
struct CallTally {
    var entries: [(method: Int, code: Int32, count: Int)] = []
    var bytesReceived = 0

    var isEmpty: Bool { entries.isEmpty && bytesReceived == 0 }

    @inline(__always)
    mutating func add(method: Int, code: RPCCode) {
        let raw = code.rawValue
        if let last = entries.indices.last, entries[last].method == method, entries[last].code == raw {
            entries[last].count &+= 1
            return
        }
        for index in entries.indices where entries[index].method == method && entries[index].code == raw {
            entries[index].count &+= 1
            return
        }
        entries.append((method, raw, 1))
    }

    mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
        bytesReceived = 0
    }
}

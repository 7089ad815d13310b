public import Instrumentation

/// A W3C Trace Context (https://www.w3.org/TR/trace-context/): what a `traceparent` and a
/// `tracestate` carry, and what ``KaroKarTracer`` keeps in an `InstrumentationContext` for the
/// span that is current in a task.
public struct TraceContext: Sendable, Hashable {
    /// 16 bytes, never all zero: the high and low halves.
    public var traceIDHigh: UInt64
    public var traceIDLow: UInt64
    /// 8 bytes, never zero.
    public var spanID: UInt64
    /// Bit 0: sampled.
    public var flags: UInt8
    /// The vendor list, passed on unchanged (only when it is well formed; see ``parse(traceparent:tracestate:)``).
    public var traceState: String?

    public init(traceIDHigh: UInt64, traceIDLow: UInt64, spanID: UInt64, flags: UInt8, traceState: String? = nil) {
        self.traceIDHigh = traceIDHigh
        self.traceIDLow = traceIDLow
        self.spanID = spanID
        self.flags = flags
        self.traceState = traceState
    }

    public var sampled: Bool { flags & 1 == 1 }

    /// 32 lowercase hex digits.
    public var traceIDHex: String { Self.hex(traceIDHigh) + Self.hex(traceIDLow) }
    /// 16 lowercase hex digits.
    public var spanIDHex: String { Self.hex(spanID) }

    /// `00-<trace id>-<span id>-<flags>`: the `traceparent` this context sends.
    public var traceparent: String {
        "00-\(traceIDHex)-\(spanIDHex)-\(flags & 1 == 1 ? "01" : "00")"
    }

    /// The context a `traceparent` (and `tracestate`) names, or nil when the `traceparent` is not
    /// exactly what the W3C recommendation allows: version `00` with exactly 55 characters, or
    /// a later version (not `ff`) whose first 55 characters have the version-00 form and that goes
    /// on only after a `-`; lowercase hex only; a trace id and a parent id that are not all
    /// zeros. Anything else is ignored, as the recommendation asks (a new trace starts).
    /// A `tracestate` is kept only beside a valid `traceparent`, and only when it is at most 512
    /// characters of printable ASCII in at most 32 non-empty `key=value` members; otherwise it
    /// is dropped, the `traceparent` still counts.
    public static func parse(traceparent: String, tracestate: String? = nil) -> TraceContext? {
        parse(traceparent: Array(traceparent.utf8), tracestate: tracestate.map { Array($0.utf8) })
    }

    /// ``parse(traceparent:tracestate:)`` of metadata values (bytes).
    public static func parse(traceparent: [UInt8], tracestate: [UInt8]?) -> TraceContext? {
        let bytes = Array(traceparent.prefix(56))
        guard bytes.count >= 55 else { return nil }
        guard let version = hexByte(bytes[0], bytes[1]), version != 0xff else { return nil }
        if version == 0 {
            guard traceparent.count == 55 else { return nil }
        } else if traceparent.count > 55 {
            guard bytes[55] == UInt8(ascii: "-") else { return nil }
        }
        guard bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-") else { return nil }
        guard let high = hexWord(bytes[3..<19]), let low = hexWord(bytes[19..<35]), high != 0 || low != 0 else { return nil }
        guard let span = hexWord(bytes[36..<52]), span != 0 else { return nil }
        guard let flags = hexByte(bytes[53], bytes[54]) else { return nil }
        var context = TraceContext(traceIDHigh: high, traceIDLow: low, spanID: span, flags: flags & 1)
        if let tracestate, isValidTraceState(tracestate) {
            context.traceState = String(decoding: tracestate, as: UTF8.self)
        }
        return context
    }

    /// At most 512 bytes of printable ASCII, 1 to 32 comma-separated members, each (spaces and
    /// tabs around it aside) a non-empty key, `=`, a non-empty value.
    static func isValidTraceState(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty, bytes.count <= 512 else { return false }
        var members = 0
        for member in bytes.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            var start = member.startIndex
            var end = member.endIndex
            while start < end, member[start] == 0x20 || member[start] == 0x09 { start += 1 }
            while end > start, member[end - 1] == 0x20 || member[end - 1] == 0x09 { end -= 1 }
            let trimmed = member[start..<end]
            if trimmed.isEmpty { continue }  // empty members are allowed and ignored
            members += 1
            guard members <= 32 else { return false }
            guard let equals = trimmed.firstIndex(of: UInt8(ascii: "=")), equals != trimmed.startIndex,
                  trimmed.index(after: equals) != trimmed.endIndex else { return false }
            guard trimmed.allSatisfy({ (0x20...0x7e).contains($0) }) else { return false }
        }
        return members > 0
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    private static func hexByte(_ high: UInt8, _ low: UInt8) -> UInt8? {
        guard let high = hexDigit(high), let low = hexDigit(low) else { return nil }
        return high << 4 | low
    }

    private static func hexWord(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for digit in digits {
            guard let nibble = hexDigit(digit) else { return nil }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }

    static func hex(_ value: UInt64) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 16) { buffer in
            for index in 0..<16 { buffer[index] = digits[Int(value >> (60 - 4 * UInt64(index)) & 0xf)] }
            return 16
        }
    }
}

/// Where ``KaroKarTracer`` keeps the current span's ``TraceContext``.
enum TraceContextKey: InstrumentationContextKey {
    typealias Value = TraceContext
    static var nameOverride: String? { "karokar.trace-context" }
}

extension InstrumentationContext {
    /// The W3C context of the current span (set by ``KaroKarTracer``), or of the remote parent
    /// a `traceparent` named.
    public var traceContext: TraceContext? {
        get { self[TraceContextKey.self] }
        set { self[TraceContextKey.self] = newValue }
    }
}

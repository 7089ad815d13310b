import KaroKarMessages

/// Key/value pairs sent with a call: credentials, idempotency key, `traceparent`.
///
/// Keys are 1...64 bytes of `[a-z0-9._-]`, unique within a call; values are bytes.
public struct Metadata: Sendable, Hashable, Sequence {
    public private(set) var entries: [(key: String, value: [UInt8])]

    public init() {
        entries = []
    }

    public init(_ pairs: [(String, String)]) {
        entries = pairs.map { ($0.0, Array($0.1.utf8)) }
    }

    /// Well-known keys.
    public enum Key {
        public static let authorization = "authorization"
        public static let idempotencyKey = "idempotency-key"
        public static let traceparent = "traceparent"
        /// The W3C vendor list sent beside `traceparent`.
        public static let tracestate = "tracestate"
        public static let requestID = "request-id"
    }

    public subscript(key: String) -> String? {
        get {
            entries.first { $0.key == key }.map { String(decoding: $0.value, as: UTF8.self) }
        }
        set {
            entries.removeAll { $0.key == key }
            if let newValue { entries.append((key, Array(newValue.utf8))) }
        }
    }

    public func bytes(for key: String) -> [UInt8]? {
        entries.first { $0.key == key }?.value
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// Summed key and value bytes: what the metadata cap counts.
    public var byteCount: Int {
        entries.reduce(0) { $0 + $1.key.utf8.count + $1.value.count }
    }

    public func makeIterator() -> some IteratorProtocol<(key: String, value: [UInt8])> {
        entries.makeIterator()
    }

    public static func == (lhs: Metadata, rhs: Metadata) -> Bool {
        lhs.entries.elementsEqual(rhs.entries) { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for entry in entries {
            hasher.combine(entry.key)
            hasher.combine(entry.value)
        }
    }

    // MARK: - Wire form

    var wireEntries: [RPCV1.MetadataEntry] {
        entries.map { RPCV1.MetadataEntry(key: $0.key, value: $0.value) }
    }

    /// Appends an entry read off the wire after checking it against the protocol's rules (a
    /// valid key, not repeated) and the connection's byte cap, counted in `total`.
    /// `knownValid`: the key is one of ``wellKnownKeys`` (valid by construction).
    package mutating func appendFromWire(_ key: String, knownValid: Bool = false, _ value: [UInt8], total: inout Int, maximumBytes: Int) throws(RPCError) {
        total += key.utf8.count + value.count
        guard total <= maximumBytes else {
            throw RPCError(.resourceExhausted, "metadata exceeds \(maximumBytes) bytes", domainCode: TransportDomainCode.metadataTooLarge)
        }
        guard knownValid || Self.isValidKey(key), entries.isEmpty || bytes(for: key) == nil else {
            throw RPCError(.invalidArgument, "invalid or repeated metadata key", domainCode: TransportDomainCode.malformedMetadata)
        }
        entries.append((key, value))
    }

    package mutating func reserveCapacity(_ count: Int) {
        entries.reserveCapacity(count)
    }

    /// The well-known keys as bytes, so that decoding reuses their strings.
    package static let wellKnownKeys: [(bytes: [UInt8], key: String)] =
        [Key.authorization, Key.idempotencyKey, Key.traceparent, Key.requestID].map { (Array($0.utf8), $0) }

    /// True when `key` is 1...64 bytes of `[a-z0-9._-]`, as the protocol requires.
    public static func isValidKey(_ key: String) -> Bool {
        let utf8 = key.utf8
        return (1...64).contains(utf8.count) && utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }
}

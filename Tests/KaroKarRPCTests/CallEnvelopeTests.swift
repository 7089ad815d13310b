import KaroKarMessages
import KaroKarProto
@testable import KaroKarRPC
@testable import KaroKarRPCServer
import KaroKarTestSupport
import NIOCore
import Testing

/// The server reads CALL bodies with its own wire scanner (no copies, limits before allocation).
/// It must accept and reject exactly what protobuf-c does for `karokar.rpc.v1.Call`.
@Suite("CALL envelope reader agrees with protobuf-c")
struct CallEnvelopeTests {
    static var generous: ServerLimits {
        var limits = ServerLimits()
        limits.maximumMetadataBytes = 1 << 20
        limits.maximumMetadataEntries = 1 << 16
        limits.maximumRequestBytes = 1 << 24
        return limits
    }

    static let valid = RPCV1.Call(
        method: "/karokar.rpc.v1.DiagnosticsService/Echo", timeoutMicros: 250_000,
        metadata: [RPCV1.MetadataEntry(key: "request-id", value: Array("r-1".utf8)), RPCV1.MetadataEntry(key: "b", value: [0, 255])],
        payload: [0x0A, 0x02, 0x68, 0x69]
    )

    /// Outcome of one reader: the decoded fields, or nil when it refused the bytes as malformed.
    private func fast(_ bytes: [UInt8], truncatingTags: Bool = false) -> RPCV1.Call?? {
        do {
            let envelope = try CallEnvelope.decode(ByteBuffer(bytes: bytes), limits: Self.generous, truncatingTags: truncatingTags)
            return .some(RPCV1.Call(
                method: envelope.path, timeoutMicros: envelope.timeoutMicros,
                metadata: envelope.metadata.entries.map { RPCV1.MetadataEntry(key: $0.key, value: $0.value) },
                payload: Array(envelope.payload.readableBytesView)
            ))
        } catch {
            return error.domainCode == TransportDomainCode.malformedPayload ? .some(nil) : nil  // nil: refused for another reason
        }
    }

    private func reference(_ bytes: [UInt8]) -> RPCV1.Call? {
        guard let call = try? ProtoCodec.decode(RPCV1.Call.self, from: bytes) else { return nil }
        return call
    }

    private func agree(_ bytes: [UInt8]) {
        guard let fastResult = fast(bytes) else { return }  // a metadata rule, not a decoding question
        let expected = reference(bytes)
        if fastResult == nil, expected != nil {
            // Allowed only where protobuf-c 1.4.1 truncates an oversized tag and the server refuses it;
            // read that way, the body decodes the same, or is refused for a rule of the server's own.
            let lenient = fast(bytes, truncatingTags: true)
            #expect(lenient == nil || lenient == .some(expected), "bytes: \(bytes.map { String($0, radix: 16) })")
            return
        }
        #expect(fastResult == expected, "bytes: \(bytes.map { String($0, radix: 16) })")
    }

    @Test func validEnvelope() {
        let bytes = ProtoCodec.encode(Self.valid)
        #expect(fast(bytes) == .some(Self.valid))
        agree(bytes)
        agree([])
    }

    /// A connection's cache hands the previous call's first metadata value out again when the
    /// bytes are equal; every decoded envelope must be what decoding without it gives.
    @Test func aConnectionsCacheChangesNoOutcome() throws {
        let first = Array("Bearer aaaa.bbbb.cccc".utf8)
        var same = first
        same[same.count - 1] = UInt8(ascii: "d")  // same length, other bytes
        let values: [[UInt8]] = [first, first, same, first, [], Array("x".utf8), first]
        var cache: MethodCache? = MethodCache()
        var previous: [UInt8]?
        for value in values {
            let call = RPCV1.Call(
                method: Self.valid.method,
                metadata: [RPCV1.MetadataEntry(key: "authorization", value: value), RPCV1.MetadataEntry(key: "request-id", value: value)]
            )
            let bytes = ByteBuffer(bytes: ProtoCodec.encode(call))
            let cached = try CallEnvelope.decode(bytes, limits: Self.generous, cache: &cache)
            let plain = try CallEnvelope.decode(bytes, limits: Self.generous)
            #expect(cached.metadata == plain.metadata)
            #expect(cached.metadata.bytes(for: "authorization") == value)
            let presented = cached.metadata.bytes(for: "authorization")!
            if let previous, previous == value, !value.isEmpty {
                let shared = presented.withUnsafeBufferPointer { a in previous.withUnsafeBufferPointer { a.baseAddress == $0.baseAddress } }
                #expect(shared, "equal bytes: the remembered array")
            }
            previous = presented
        }
    }

    @Test("random mutations of a valid envelope", arguments: 0..<8)
    func mutations(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        let base = ProtoCodec.encode(Self.valid)
        for _ in 0..<2_000 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                if bytes.isEmpty { bytes.append(UInt8.random(in: 0...255, using: &generator)) }
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: Int.random(in: 0...bytes.count, using: &generator))
                case 2: if bytes.count > 1 { bytes.remove(at: Int.random(in: 0..<bytes.count, using: &generator)) }
                default: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator)))
                }
            }
            agree(bytes)
        }
    }

    @Test("later singular fields win; unknown fields are skipped; wrong wire types are refused")
    func protobufSemantics() {
        // method twice, an unknown field 9 (varint), payload.
        let bytes: [UInt8] = [0x0A, 0x01, 0x61, 0x0A, 0x01, 0x62, 0x48, 0x05, 0x22, 0x01, 0x07]
        #expect(fast(bytes) == .some(RPCV1.Call(method: "b", payload: [7])))
        agree(bytes)
        agree([0x10, 0x02, 0x61, 0x62])  // timeout sent as length-delimited
        agree([0x0A, 0x03, 0x61, 0x00, 0x62])  // NUL inside the method string
        agree([0x0A, 0x02, 0xC3, 0x28])  // invalid UTF-8
        agree([0x10] + [UInt8](repeating: 0xFF, count: 10) + [0x01])  // over-long varint
    }

    @Test("a tag beyond 32 bits is refused, where protobuf-c 1.4.1 truncates it (found by the fuzzer)")
    func oversizedTag() {
        // method "/", then a 5-byte tag whose value exceeds 32 bits, wire type 1, and 8 bytes.
        let bytes: [UInt8] = [0x0A, 0x01, 0x2F, 0xD1, 0xBB, 0x96, 0x9E, 0x72, 0x2D, 0x31, 0x22, 0x2F, 0x45, 0x63, 0x68, 0x00]
        #expect(fast(bytes) == .some(nil), "the server refuses it as malformed")
        #expect(reference(bytes) == RPCV1.Call(method: "/"), "protobuf-c keeps it as an unknown field")
        agree(bytes)
        // Field number 0 in a two-byte tag (found by the fuzzer too): refused; protobuf-c keeps it.
        let zero: [UInt8] = [0x58, 0x58, 0x80, 0x00, 0x58, 0x58]
        #expect(fast(zero) == .some(nil))
        agree(zero)
    }

    @Test("a long tag next to a metadata entry the server refuses is no disagreement (found by the fuzzer)")
    func longTagAndEmptyMetadataKey() {
        // an unknown varint field with a 5-byte tag beyond 32 bits, then a metadata entry with no key.
        let bytes: [UInt8] = [0x50, 0x71, 0xB0, 0xAF, 0xAF, 0xAF, 0x50, 0x50, 0x1A, 0x00, 0x50, 0x69]
        #expect(fast(bytes) == .some(nil), "strictly read: malformed (the tag)")
        #expect(fast(bytes, truncatingTags: true) == nil, "leniently read: refused for its metadata, not as malformed")
        #expect(reference(bytes) != nil, "protobuf-c accepts it")
        agree(bytes)
    }
}

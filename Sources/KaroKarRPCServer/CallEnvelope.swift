import KaroKarRPC
import KaroKarMessages
import KaroKarProto
import NIOCore

/// A CALL frame's body (`karokar.rpc.v1.Call`), read straight off the wire with the bounded wire
/// scanner: every limit is checked before anything is allocated, and the payload stays a slice of
/// the frame (no copy). This is the hottest decoder of the server; `CallEnvelopeTests` and the
/// fuzzer check that it accepts and rejects exactly what protobuf-c does for the generated type.
struct CallEnvelope {
    var path = ""
    var timeoutMicros: UInt64 = 0
    var metadata = Metadata()
    var payload = ByteBuffer()

    static let maximumPathBytes = 256

    /// Throws the REPLY status for this call; the connection stays open.
    /// `truncatingTags` mimics protobuf-c's reading of oversized tags, for differential tests.
    static func decode(_ body: ByteBuffer, limits: ServerLimits, truncatingTags: Bool = false) throws(RPCError) -> CallEnvelope {
        var cache: MethodCache?
        return try decode(body, limits: limits, truncatingTags: truncatingTags, cache: &cache)
    }

    /// As above, reusing (and updating) the connection's ``MethodCache``.
    static func decode(
        _ body: ByteBuffer, limits: ServerLimits, truncatingTags: Bool = false, cache: inout MethodCache?
    ) throws(RPCError) -> CallEnvelope {
        var fields = Fields(truncatingTags: truncatingTags)
        let wellFormed = body.withUnsafeReadableBytes { bytes in
            ProtoWire.scan(bytes, truncatingTags: truncatingTags) { field, value in fields.visit(field, value) }
        }
        guard wellFormed, fields.wellTyped else {
            throw RPCError(.invalidArgument, "CALL body is not a valid karokar.rpc.v1.Call", domainCode: TransportDomainCode.malformedPayload)
        }
        try fields.checkBounds(limits: limits, body: body)
        return try fields.envelope(body: body, limits: limits, cache: &cache)
    }

    /// Where each field lies in the body; later occurrences of singular fields win, as in protobuf.
    struct Fields {
        var path: Range<Int>?
        var timeoutMicros: UInt64 = 0
        var payload: Range<Int>?
        /// Metadata entries in order: the first inline (most calls carry one, the credential),
        /// the rest in a list.
        var firstMetadata: Range<Int>?
        var moreMetadata: [Range<Int>] = []
        var metadataCount = 0
        var metadataBytes = 0
        var wellTyped = true
        var truncatingTags = false

        init(truncatingTags: Bool) {
            self.truncatingTags = truncatingTags
        }

        mutating func visit(_ field: UInt32, _ value: ProtoWire.Value) {
            switch (field, value) {
            case (1, .bytes(let range)): path = range
            case (2, .varint(let number)): timeoutMicros = number
            case (3, .bytes(let range)):
                if firstMetadata == nil { firstMetadata = range } else { moreMetadata.append(range) }
                metadataCount += 1
                metadataBytes += range.count
            case (4, .bytes(let range)): payload = range
            case (1...4, _): wellTyped = false
            default: break  // unknown fields are ignored
            }
        }

        func checkBounds(limits: ServerLimits, body: ByteBuffer) throws(RPCError) {
            guard (path?.count ?? 0) <= CallEnvelope.maximumPathBytes else {
                throw RPCError(.invalidArgument, "method path longer than \(CallEnvelope.maximumPathBytes) bytes", domainCode: TransportDomainCode.unknownMethod)
            }
            // Inside an entry, tags and lengths add at most 6 bytes to its key and value (values
            // under 2 MiB); the exact count is checked again below.
            guard metadataCount <= limits.maximumMetadataEntries,
                  metadataBytes <= limits.maximumMetadataBytes + 6 * metadataCount
            else {
                throw RPCError(.resourceExhausted, "metadata exceeds \(limits.maximumMetadataBytes) bytes or \(limits.maximumMetadataEntries) entries", domainCode: TransportDomainCode.metadataTooLarge)
            }
        }

        /// The envelope, built once from its parts (no default values made and then replaced:
        /// this runs for every call).
        func envelope(body: ByteBuffer, limits: ServerLimits, cache: inout MethodCache?) throws(RPCError) -> CallEnvelope {
            let path: String
            let cap: Int
            if let range = self.path, let hit = cache?.lookup(body, range) {
                path = hit.path
                cap = hit.requestCap
            } else {
                path = try self.path.map { range throws(RPCError) in try string(body, range) } ?? ""
                cap = limits.requestBytes(forPath: path)
                if let range = self.path { cache?.store(body, range, path: path, requestCap: cap) }
            }
            let payloadBytes = payload?.count ?? 0
            guard payloadBytes <= cap else {
                throw RPCError(.resourceExhausted, "request payload of \(payloadBytes) bytes exceeds \(cap)", domainCode: TransportDomainCode.requestTooLarge)
            }
            let payloadSlice = payload.map { body.getSlice(at: body.readerIndex + $0.lowerBound, length: $0.count)! } ?? ByteBuffer()
            // The entry count was checked with the bounds; entries go straight into the metadata.
            var metadata = Metadata()
            if let firstMetadata {
                var noCache: MethodCache?
                metadata.reserveCapacity(metadataCount)
                var total = 0
                for index in 0..<metadataCount {
                    let (key, known, value) = index == 0
                        ? try entry(body, firstMetadata, cache: &cache) : try entry(body, moreMetadata[index - 1], cache: &noCache)
                    try metadata.appendFromWire(key, knownValid: known, value, total: &total, maximumBytes: limits.maximumMetadataBytes)
                }
            }
            return CallEnvelope(path: path, timeoutMicros: timeoutMicros, metadata: metadata, payload: payloadSlice)
        }

        /// The entry's key (and whether it is a well-known one) and value.
        /// `cache` (the connection's, for the first entry) may hand out the previous call's value.
        private func entry(
            _ body: ByteBuffer, _ range: Range<Int>, cache: inout MethodCache?
        ) throws(RPCError) -> (key: String, known: Bool, value: [UInt8]) {
            var key: Range<Int>?
            var value: Range<Int>?
            var wellTyped = true
            let wellFormed = body.withUnsafeReadableBytes { bytes in
                ProtoWire.scan(UnsafeRawBufferPointer(rebasing: bytes[range]), truncatingTags: truncatingTags) { field, fieldValue in
                    switch (field, fieldValue) {
                    case (1, .bytes(let inner)): key = inner
                    case (2, .bytes(let inner)): value = inner
                    case (1...2, _): wellTyped = false
                    default: break
                    }
                }
            }
            guard wellFormed, wellTyped else {
                throw RPCError(.invalidArgument, "CALL body is not a valid karokar.rpc.v1.Call", domainCode: TransportDomainCode.malformedPayload)
            }
            let base = range.lowerBound
            let keyText = try key.map { inner throws(RPCError) in try keyString(body, (base + inner.lowerBound)..<(base + inner.upperBound)) }
            var valueBytes: [UInt8] = []
            if let inner = value {
                let absolute = (base + inner.lowerBound)..<(base + inner.upperBound)
                if cache != nil {
                    valueBytes = cache!.metadataValue(body, absolute)
                } else {
                    valueBytes = body.getBytes(at: body.readerIndex + absolute.lowerBound, length: absolute.count)!
                }
            }
            return (keyText?.key ?? "", keyText?.known ?? false, valueBytes)
        }

        /// A metadata key: a well-known one's string when the bytes are exactly it (no allocation
        /// or validation on the common path), else as ``string(_:_:)`` reads it.
        private func keyString(_ body: ByteBuffer, _ range: Range<Int>) throws(RPCError) -> (key: String, known: Bool) {
            let known = body.withUnsafeReadableBytes { bytes -> String? in
                let field = UnsafeRawBufferPointer(rebasing: bytes[range])
                for entry in Metadata.wellKnownKeys where entry.bytes.count == field.count {
                    if entry.bytes.withUnsafeBytes({ $0.elementsEqual(field) }) { return entry.key }
                }
                return nil
            }
            if let known { return (known, true) }
            return (try string(body, range), false)
        }

        /// A string field: UTF-8, cut at the first NUL as protobuf-c does.
        private func string(_ body: ByteBuffer, _ range: Range<Int>) throws(RPCError) -> String {
            let text = body.withUnsafeReadableBytes { bytes in
                let field = UnsafeRawBufferPointer(rebasing: bytes[range])
                return String(validating: UnsafeRawBufferPointer(rebasing: field.prefix { $0 != 0 }), as: UTF8.self)
            }
            guard let text else {
                throw RPCError(.invalidArgument, "CALL body is not a valid karokar.rpc.v1.Call", domainCode: TransportDomainCode.malformedPayload)
            }
            return text
        }
    }
}

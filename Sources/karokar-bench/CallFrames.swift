import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarToolSupport
import NIOCore

/// Writes CALL frames straight into an outgoing buffer: the envelope's method, deadline and
/// metadata are encoded once; each call adds its id and payload (`Call.payload` is field 4, the
/// last one, so appending it to the encoded prefix is a valid canonical encoding).
struct CallFrameWriter: Sendable {
    private let prefix: [UInt8]

    init(path: String, timeout: Duration?, metadata: Metadata) {
        let timeoutMicros = timeout.map { UInt64(max(1, TimeAmount($0).nanoseconds / 1000)) } ?? 0
        let entries = metadata.entries.map { RPCV1.MetadataEntry(key: $0.key, value: $0.value) }
        prefix = ProtoCodec.encode(RPCV1.Call(method: path, timeoutMicros: timeoutMicros, metadata: entries))
    }

    /// Appends the frame in one write to the buffer (not one per field: this runs for every call).
    func write(callID: UInt32, payload: [UInt8], into buffer: inout ByteBuffer) {
        let bodyLength = bodySize(payload.count)
        let frameLength = FrameLayout.lengthFieldSize + FrameLayout.headerSize + bodyLength
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: frameLength) { out in
            let base = out.baseAddress!
            base.storeBytes(of: UInt32(FrameLayout.headerSize + bodyLength).bigEndian, as: UInt32.self)
            base.storeBytes(of: FrameType.call.rawValue, toByteOffset: 4, as: UInt8.self)
            base.storeBytes(of: 0, toByteOffset: 5, as: UInt8.self)  // flags
            base.storeBytes(of: 0, toByteOffset: 6, as: UInt16.self)  // reserved
            base.storeBytes(of: callID.bigEndian, toByteOffset: 8, as: UInt32.self)
            var at = FrameLayout.lengthFieldSize + FrameLayout.headerSize
            if !prefix.isEmpty {
                prefix.withUnsafeBytes { (base + at).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                at += prefix.count
            }
            if !payload.isEmpty {
                base.storeBytes(of: 0x22, toByteOffset: at, as: UInt8.self)  // field 4, length-delimited
                at += 1
                ProtoWire.writeVarint(UInt64(payload.count)) { byte in
                    base.storeBytes(of: byte, toByteOffset: at, as: UInt8.self)
                    at += 1
                }
                payload.withUnsafeBytes { (base + at).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            }
            return frameLength
        }
    }

    private func bodySize(_ payloadCount: Int) -> Int {
        prefix.count + (payloadCount == 0 ? 0 : 1 + ProtoWire.varintSize(UInt64(payloadCount)) + payloadCount)
    }

    /// The HELLO frame that opens a connection.
    static func hello(clientName: String) -> ByteBuffer {
        let body = ProtoCodec.encode(RPCV1.Hello(protocolVersion: 1, clientName: clientName))
        var buffer = ByteBuffer()
        buffer.writeFrameHeader(type: FrameType.hello.rawValue, callID: 0, bodyLength: body.count)
        buffer.writeBytes(body)
        return buffer
    }
}

/// The outcome of a REPLY, read in place from its body without decoding the payload.
struct ReplyStatus: Equatable {
    var code: Int32 = 0
    var domainCode: String?

    /// Nil when the body is not a valid `Reply`.
    init?(replyBody body: ByteBuffer) {
        // The common case, a canonical OK reply: `0a 00` (an empty, present status) first.
        if body.readableBytes >= 2, body.getInteger(at: body.readerIndex, as: UInt16.self) == 0x0A00 {
            return
        }
        guard let status = body.withUnsafeReadableBytes({ Self.read($0) }) else { return nil }
        self = status
    }

    private init() {}

    private static func read(_ bytes: UnsafeRawBufferPointer) -> ReplyStatus? {
        var statusRange: Range<Int>?
        let valid = ProtoWire.scan(bytes) { field, value in
            if field == 1, case .bytes(let range) = value { statusRange = range }
        }
        guard valid else { return nil }
        var result = ReplyStatus()
        guard let statusRange else { return result }  // no status: OK with defaults
        let status = UnsafeRawBufferPointer(rebasing: bytes[statusRange])
        var detailsRange: Range<Int>?
        guard ProtoWire.scan(status, { field, value in
            if field == 1, case .varint(let code) = value { result.code = Int32(truncatingIfNeeded: code) }
            if field == 3, case .bytes(let range) = value { detailsRange = range }
        }) else { return nil }
        if let detailsRange {
            let details = UnsafeRawBufferPointer(rebasing: status[detailsRange])
            _ = ProtoWire.scan(details) { field, value in
                if field == 1, case .bytes(let range) = value {
                    result.domainCode = String(decoding: UnsafeRawBufferPointer(rebasing: details[range]), as: UTF8.self)
                }
            }
        }
        return result
    }
}

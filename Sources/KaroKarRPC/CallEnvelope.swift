import NIOCore
import KaroKarMessages
import KaroKarProto

/// Reads a CALL frame's body into a validated call, checking every limit before protobuf-c
/// allocates: entry count and bytes of metadata and the payload size are read from the wire first.
struct CallEnvelope {
    let path: String
    let timeoutMicros: UInt64
    let metadata: Metadata
    let payload: [UInt8]

    static let maximumPathBytes = 256

    /// Throws the REPLY status for this call; the connection stays open.
    static func decode(_ body: ByteBuffer, limits: ServerLimits) throws(RPCError) -> CallEnvelope {
        let bounds = body.withUnsafeReadableBytes { Bounds.scan($0) }
        guard let bounds else {
            throw RPCError(.invalidArgument, "CALL body is not a valid karokar.rpc.v1.Call", domainCode: TransportDomainCode.malformedPayload)
        }
        try bounds.check(limits: limits)
        let call: RPCV1.Call
        do {
            call = try body.withUnsafeReadableBytes { try ProtoCodec.decode(RPCV1.Call.self, from: $0) }
        } catch ProtoDecodingError.budgetExceeded {
            throw RPCError(.resourceExhausted, "CALL body needs more memory to decode than allowed", domainCode: TransportDomainCode.malformedPayload)
        } catch {
            throw RPCError(.invalidArgument, "CALL body is not a valid karokar.rpc.v1.Call", domainCode: TransportDomainCode.malformedPayload)
        }
        let metadata = try Metadata.validated(call.metadata, maximumBytes: limits.maximumMetadataBytes, maximumEntries: limits.maximumMetadataEntries)
        return CallEnvelope(path: call.method, timeoutMicros: call.timeoutMicros, metadata: metadata, payload: call.payload)
    }

    /// What the wire says about the envelope's size, before decoding.
    struct Bounds {
        var pathBytes = 0
        var metadataEntries = 0
        var metadataBytes = 0
        var payloadBytes = 0
        var path: [UInt8] = []

        static func scan(_ bytes: UnsafeRawBufferPointer) -> Bounds? {
            var bounds = Bounds()
            let valid = ProtoWire.scan(bytes) { field, value in
                guard case .bytes(let range) = value else { return }
                switch field {
                case 1:
                    bounds.pathBytes = range.count
                    if range.count <= CallEnvelope.maximumPathBytes { bounds.path = Array(bytes[range]) }
                case 3:
                    bounds.metadataEntries += 1
                    bounds.metadataBytes += range.count
                case 4: bounds.payloadBytes += range.count
                default: break
                }
            }
            return valid ? bounds : nil
        }

        func check(limits: ServerLimits) throws(RPCError) {
            guard pathBytes <= CallEnvelope.maximumPathBytes else {
                throw RPCError(.invalidArgument, "method path longer than \(CallEnvelope.maximumPathBytes) bytes", domainCode: TransportDomainCode.unknownMethod)
            }
            // Inside an entry, tags and lengths add at most 6 bytes to its key and value (values
            // under 2 MiB); the exact count is checked again after decoding.
            guard metadataEntries <= limits.maximumMetadataEntries,
                  metadataBytes <= limits.maximumMetadataBytes + 6 * metadataEntries
            else {
                throw RPCError(.resourceExhausted, "metadata exceeds \(limits.maximumMetadataBytes) bytes or \(limits.maximumMetadataEntries) entries", domainCode: TransportDomainCode.metadataTooLarge)
            }
            let cap = limits.requestBytes(forPath: String(decoding: path, as: UTF8.self))
            guard payloadBytes <= cap else {
                throw RPCError(.resourceExhausted, "request payload of \(payloadBytes) bytes exceeds \(cap)", domainCode: TransportDomainCode.requestTooLarge)
            }
        }
    }
}

extension ByteBuffer {
    /// Appends a frame whose body is `message`, encoded by protobuf-c straight into the buffer.
    mutating func writeFrame<M: ProtoMessage>(type: FrameType, callID: UInt32 = 0, message: M) {
        ProtoCodec.encode(message) { size, pack in
            writeFrameHeader(type: type.rawValue, callID: callID, bodyLength: size)
            if size > 0 {
                writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                    pack(out.baseAddress!)
                    return size
                }
            }
        }
    }
}

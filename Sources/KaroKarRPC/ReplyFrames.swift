public import KaroKarProto
public import NIOCore

/// How REPLY frames (and the server's other frames) are laid into buffers. A successful REPLY is
/// `Reply { status: {} (present, OK), payload }`, canonically encoded: `0a 00 12 <varint length>
/// <payload>` after the frame header. These sit on every call's path, so each writes its fixed
/// bytes in one access to the buffer rather than one per field.
extension ByteBuffer {
    /// Appends a frame whose body is `message`, encoded by protobuf-c straight into the buffer.
    package mutating func writeFrame<M: ProtoMessage>(type: FrameType, callID: UInt32 = 0, message: M) {
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

    /// Appends the successful REPLY frame of `callID` with `message` as its payload, encoded by
    /// protobuf-c in place: no buffer of its own, no copy.
    @inlinable
    mutating func writeOKReply<M: ProtoMessage>(callID: UInt32, encoding message: M) {
        ProtoCodec.encode(message) { size, pack in
            writeOKReply(callID: callID, payloadLength: size, fill: pack)
        }
    }

    /// Appends a successful REPLY frame of `callID` whose `length` payload bytes `fill` writes.
    @inlinable
    mutating func writeOKReply(callID: UInt32, payloadLength length: Int, fill: (UnsafeMutableRawPointer) -> Void) {
        let prefix = OKReplyPrefix.size(payloadLength: length)
        writeWithUnsafeMutableBytes(minimumWritableBytes: prefix + length) { out in
            OKReplyPrefix.store(callID: callID, payloadLength: length, at: out.baseAddress!)
            if length > 0 { fill(out.baseAddress! + prefix) }
            return prefix + length
        }
    }

    /// Appends a successful REPLY frame of `callID` with `payload`'s readable bytes.
    @inlinable
    mutating func writeOKReply(callID: UInt32, payload: ByteBuffer) {
        payload.withUnsafeReadableBytes { bytes in
            writeOKReply(callID: callID, payloadLength: bytes.count) { out in
                out.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            }
        }
    }

    /// The successful REPLY frame for `payload`: written into the payload's headroom when it has
    /// enough (``init(encoding:headroom:)``), so the payload is not copied; appended to a new
    /// buffer otherwise.
    /// `payload` is consumed: the caller's must be the last reference, or writing the header copies it.
    package static func okReplyFrame(callID: UInt32, payload: consuming ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        let length = payload.readableBytes
        let prefix = OKReplyPrefix.size(payloadLength: length)
        guard payload.readerIndex >= prefix else {
            var frame = allocator.buffer(capacity: prefix + length)
            frame.writeOKReply(callID: callID, payload: payload)
            return frame
        }
        let start = payload.readerIndex - prefix
        var frame = consume payload
        frame.withVeryUnsafeMutableBytes { storage in
            OKReplyPrefix.store(callID: callID, payloadLength: length, at: storage.baseAddress! + start)
        }
        frame.moveReaderIndex(to: start)
        return frame
    }
}

/// The bytes of a successful REPLY frame in front of its payload.
@usableFromInline
enum OKReplyPrefix {
    @inlinable
    static func size(payloadLength: Int) -> Int {
        FrameLayout.lengthFieldSize + FrameLayout.headerSize + 3 + ProtoWire.varintSize(UInt64(payloadLength))
    }

    /// Stores the length field, the header (REPLY, no flags, `callID`) and `0a 00 12 <length>`.
    @inlinable
    static func store(callID: UInt32, payloadLength length: Int, at out: UnsafeMutableRawPointer) {
        let prefix = size(payloadLength: length)
        out.storeBytes(of: UInt32(prefix - FrameLayout.lengthFieldSize + length).bigEndian, toByteOffset: 0, as: UInt32.self)
        out.storeBytes(of: FrameType.reply.rawValue, toByteOffset: 4, as: UInt8.self)
        out.storeBytes(of: 0, toByteOffset: 5, as: UInt8.self)  // flags
        out.storeBytes(of: 0, toByteOffset: 6, as: UInt16.self)  // reserved
        out.storeBytes(of: callID.bigEndian, toByteOffset: 8, as: UInt32.self)
        out.storeBytes(of: 0x0A, toByteOffset: 12, as: UInt8.self)  // status: present and empty (OK)
        out.storeBytes(of: 0x00, toByteOffset: 13, as: UInt8.self)
        out.storeBytes(of: 0x12, toByteOffset: 14, as: UInt8.self)  // payload, length-delimited
        var at = 15
        ProtoWire.writeVarint(UInt64(length)) { byte in
            out.storeBytes(of: byte, toByteOffset: at, as: UInt8.self)
            at += 1
        }
    }
}

public import NIOCore

/// The frame types of protocol version 1 (Protos/PROTOCOL.md, "Frame types").
public enum FrameType: UInt8, Sendable, CaseIterable {
    case hello = 0x01
    case helloAck = 0x02
    case call = 0x10
    case reply = 0x11
    case cancel = 0x12
    case ping = 0x20
    case pong = 0x21
    case drain = 0x30

    /// Types at or above this value are extensions a receiver must skip; below it, an unknown type
    /// is a protocol error. 0x13 and 0x14 are reserved for server streaming.
    public static let firstIgnorable: UInt8 = 0x80
}

/// One frame: the fixed header fields and the body (a protobuf message, or empty).
public struct Frame: Sendable, Hashable {
    /// The raw type byte; see ``FrameType``.
    public var typeByte: UInt8
    public var flags: UInt8
    /// Zero for connection-level frames (HELLO, PING, DRAIN...), the call's id otherwise.
    public var callID: UInt32
    public var body: ByteBuffer

    public var type: FrameType? {
        FrameType(rawValue: typeByte)
    }

    public init(type: FrameType, flags: UInt8 = 0, callID: UInt32 = 0, body: ByteBuffer) {
        self.typeByte = type.rawValue
        self.flags = flags
        self.callID = callID
        self.body = body
    }

    public init(typeByte: UInt8, flags: UInt8, callID: UInt32, body: ByteBuffer) {
        self.typeByte = typeByte
        self.flags = flags
        self.callID = callID
        self.body = body
    }
}

/// Byte layout constants.
public enum FrameLayout {
    /// The length prefix: 4 bytes, big-endian, counting every byte after itself.
    public static let lengthFieldSize = 4
    /// type (1) + flags (1) + reserved (2) + call id (4): the minimum value of the length field.
    public static let headerSize = 8
    /// Never negotiable above this (16 MiB).
    public static let absoluteMaximumFrameBytes = 16 * 1024 * 1024
    /// Bytes in front of an OK REPLY's payload: frame header, `0a 00 12` and the payload length.
    @usableFromInline static let okReplyHeadroom = lengthFieldSize + headerSize + 3 + 5
}

extension ByteBuffer {
    /// Appends a frame header for a body of `bodyLength` bytes.
    @inlinable
    public mutating func writeFrameHeader(type: UInt8, flags: UInt8 = 0, callID: UInt32, bodyLength: Int) {
        writeInteger(UInt32(FrameLayout.headerSize + bodyLength))
        writeInteger(type)
        writeInteger(flags)
        writeInteger(UInt16(0))
        writeInteger(callID)
    }

    /// Appends a whole frame whose body is `body`'s readable bytes.
    public mutating func writeFrame(_ frame: Frame) {
        writeFrameHeader(type: frame.typeByte, flags: frame.flags, callID: frame.callID, bodyLength: frame.body.readableBytes)
        writeImmutableBuffer(frame.body)
    }
}

public import NIOCore

/// Why the byte stream could not be split into frames. Each one closes the connection.
public enum FrameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The length field is below the 8 header bytes.
    case lengthTooSmall(UInt32)
    /// The length field is above the connection's maximum; detected before the body is read.
    case frameTooLarge(length: UInt32, maximum: Int)

    public var description: String {
        switch self {
        case .lengthTooSmall(let length):
            "frame length \(length) is below the \(FrameLayout.headerSize)-byte header"
        case .frameTooLarge(let length, let maximum):
            "frame length \(length) exceeds the maximum of \(maximum) bytes"
        }
    }
}

/// Splits a byte stream into frames. Pure: no I/O, no clocks, so it is tested drip-fed and coalesced.
///
/// The declared length is checked as soon as the 4-byte prefix is readable, before any of the body
/// is buffered: an oversized frame costs the peer nothing but a closed connection.
public struct FrameParser {
    public let maximumFrameBytes: Int
    @usableFromInline var buffer: ByteBuffer?

    public init(maximumFrameBytes: Int) {
        precondition(maximumFrameBytes >= FrameLayout.headerSize)
        self.maximumFrameBytes = maximumFrameBytes
    }

    /// True when some bytes of an incomplete frame are buffered.
    public var hasPartialFrame: Bool {
        (buffer?.readableBytes ?? 0) > 0
    }

    /// Bytes buffered and not yet returned as frames.
    public var bufferedBytes: Int {
        buffer?.readableBytes ?? 0
    }

    /// Inlinable, like ``next()``: both run for every read and frame, and are compiled into the
    /// server's and the load generator's modules with their release setting.
    @inlinable
    public mutating func append(_ bytes: ByteBuffer) {
        if buffer == nil || buffer!.readableBytes == 0 {
            buffer = bytes
        } else {
            var incoming = bytes
            buffer!.writeBuffer(&incoming)
        }
    }

    /// The next complete frame, or nil when more bytes are needed.
    @inlinable
    public mutating func next() throws(FrameError) -> Frame? {
        guard var current = buffer, current.readableBytes >= FrameLayout.lengthFieldSize else {
            return nil
        }
        let length = current.getInteger(at: current.readerIndex, as: UInt32.self)!
        guard length >= FrameLayout.headerSize else {
            throw .lengthTooSmall(length)
        }
        guard length <= maximumFrameBytes else {
            throw .frameTooLarge(length: length, maximum: maximumFrameBytes)
        }
        guard current.readableBytes >= FrameLayout.lengthFieldSize + Int(length) else {
            return nil
        }
        current.moveReaderIndex(forwardBy: FrameLayout.lengthFieldSize)
        let type: UInt8 = current.readInteger()!
        let flags: UInt8 = current.readInteger()!
        current.moveReaderIndex(forwardBy: 2)  // reserved, ignored by receivers
        let callID: UInt32 = current.readInteger()!
        let body = current.readSlice(length: Int(length) - FrameLayout.headerSize)!
        buffer = current.readableBytes > 0 ? current : nil
        return Frame(typeByte: type, flags: flags, callID: callID, body: body)
    }
}

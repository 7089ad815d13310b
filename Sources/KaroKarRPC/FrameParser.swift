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
    /// The header is read in one access to the buffer and the buffer is advanced in place: this
    /// runs for every frame, so it makes one slice (the body) and nothing else.
    @inlinable @inline(__always)
    public mutating func next() throws(FrameError) -> Frame? {
        guard buffer != nil else { return nil }
        let readable = buffer!.readableBytes
        guard readable >= FrameLayout.lengthFieldSize + FrameLayout.headerSize else {
            // Too short for a header, but the length may already be readable (and refused).
            guard readable >= FrameLayout.lengthFieldSize else { return nil }
            let length = buffer!.getInteger(at: buffer!.readerIndex, as: UInt32.self)!
            try check(length)
            return nil
        }
        let header = buffer!.withUnsafeReadableBytes { bytes in
            (length: UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self)),
             type: bytes[4], flags: bytes[5],
             callID: UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        }
        try check(header.length)
        let total = FrameLayout.lengthFieldSize + Int(header.length)
        guard readable >= total else { return nil }
        let bodyStart = buffer!.readerIndex + FrameLayout.lengthFieldSize + FrameLayout.headerSize
        let body = buffer!.getSlice(at: bodyStart, length: Int(header.length) - FrameLayout.headerSize)!
        if readable == total {
            buffer = nil
        } else {
            buffer!.moveReaderIndex(forwardBy: total)
        }
        return Frame(typeByte: header.type, flags: header.flags, callID: header.callID, body: body)
    }

    /// Refuses a length field below the header or above the maximum.
    @inlinable
    func check(_ length: UInt32) throws(FrameError) {
        guard length >= FrameLayout.headerSize else {
            throw .lengthTooSmall(length)
        }
        guard length <= maximumFrameBytes else {
            throw .frameTooLarge(length: length, maximum: maximumFrameBytes)
        }
    }
}

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
///
/// The buffer keeps only the bytes not yet returned as frames: when a read does not fit behind
/// them, the bytes already returned are dropped first, and the buffer grows only if the rest
/// still does not fit. Whatever the reads' sizes, it holds at most the frames not yet taken plus
/// one read, so a peer whose reads never end on a frame boundary costs no more than one that
/// sends whole frames.
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

    /// The capacity of the buffer behind ``bufferedBytes`` (0 when none is held): the memory the
    /// parser keeps for the connection.
    public var bufferCapacity: Int {
        buffer?.capacity ?? 0
    }

    /// Inlinable, like ``next()``: both run for every read and frame, and are compiled into the
    /// server's and the load generator's modules with their release setting. A read that finds
    /// nothing buffered is taken as it is, without a copy.
    @inlinable
    public mutating func append(_ bytes: ByteBuffer) {
        guard buffer != nil, buffer!.readableBytes > 0 else {
            buffer = bytes
            return
        }
        var incoming = bytes
        if buffer!.writableBytes < incoming.readableBytes {
            makeRoom(for: incoming.readableBytes)
        }
        buffer!.writeBuffer(&incoming)
    }

    /// Makes room for `count` more bytes behind the buffered ones: drops the bytes already
    /// returned as frames when that is enough, or else moves the buffered bytes into a larger
    /// buffer (twice the size, so that a large frame arriving in small reads is copied a few
    /// times, not once per read; but no more than one maximum frame and the incoming read need).
    @usableFromInline
    mutating func makeRoom(for count: Int) {
        let needed = buffer!.readableBytes + count
        if needed <= buffer!.capacity {
            buffer!.discardReadBytes()
            return
        }
        let ceiling = maximumFrameBytes + FrameLayout.lengthFieldSize + count
        var grown = ByteBufferAllocator().buffer(capacity: max(needed, min(2 * buffer!.capacity, ceiling)))
        grown.writeBuffer(&buffer!)
        buffer = grown
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

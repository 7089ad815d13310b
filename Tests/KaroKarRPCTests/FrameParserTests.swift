import KaroKarRPC
import NIOCore
import Testing

@Suite("Frame parser")
struct FrameParserTests {
    static let frames = [
        Frame(type: .ping, callID: 0, body: ByteBuffer(bytes: [0x08, 0x2A])),
        Frame(type: .call, callID: 7, body: ByteBuffer(bytes: Array(repeating: 0xAB, count: 300))),
        Frame(type: .cancel, callID: 7, body: ByteBuffer()),
        Frame(typeByte: 0x99, flags: 0x80, callID: 1, body: ByteBuffer(bytes: [1, 2, 3])),
    ]

    static var stream: [UInt8] {
        var buffer = ByteBuffer()
        for frame in frames { buffer.writeFrame(frame) }
        return Array(buffer.readableBytesView)
    }

    private func parse(chunks: [[UInt8]]) throws -> [Frame] {
        var parser = FrameParser(maximumFrameBytes: 1024)
        var out: [Frame] = []
        for chunk in chunks {
            parser.append(ByteBuffer(bytes: chunk))
            while let frame = try parser.next() { out.append(frame) }
        }
        #expect(!parser.hasPartialFrame)
        return out
    }

    @Test func coalesced() throws {
        #expect(try parse(chunks: [Self.stream]) == Self.frames)
    }

    @Test func dripFedOneByteAtATime() throws {
        #expect(try parse(chunks: Self.stream.map { [$0] }) == Self.frames)
    }

    @Test(arguments: [2, 3, 5, 11, 13, 64])
    func arbitraryChunks(size: Int) throws {
        let chunks = stride(from: 0, to: Self.stream.count, by: size).map { Array(Self.stream[$0..<min($0 + size, Self.stream.count)]) }
        #expect(try parse(chunks: chunks) == Self.frames)
    }

    /// Issue 19, finding 2: the buffer used to keep every byte since it was last empty, and with
    /// reads that never end on a frame boundary it never is (megabytes here, as much as the peer
    /// sends on a server). It holds the frame in progress and one read at most.
    @Test("reads that never end on a frame boundary keep the buffer within one frame and one read", arguments: [0.7, 1.5, 2.3])
    func boundedWhateverTheReads(framesPerRead: Double) throws {
        let frameBytes = 20_000
        let frame = Frame(type: .call, callID: 1, body: ByteBuffer(repeating: 0xAB, count: frameBytes - 12))
        var stream = ByteBuffer()
        for _ in 0..<500 { stream.writeFrame(frame) }
        var parser = FrameParser(maximumFrameBytes: 32 * 1024)
        let read = Int(Double(frameBytes) * framesPerRead)
        // The first read is half as long as the others: no read ends on a frame boundary.
        var chunk = read / 2, frames = 0, peak = 0
        while stream.readableBytes > 0 {
            parser.append(stream.readSlice(length: min(chunk, stream.readableBytes))!)
            peak = max(peak, parser.bufferCapacity)
            while try parser.next() != nil { frames += 1 }
            chunk = read
        }
        #expect(frames == 500)
        // The frame in progress (< 20,000 bytes) and one read (< 46,000), in a power-of-two buffer.
        #expect(peak <= 131_072, "peak capacity \(peak)")
    }

    @Test("an oversized length is refused from the 4-byte prefix alone")
    func tooLargeFromPrefix() {
        var parser = FrameParser(maximumFrameBytes: 1024)
        parser.append(ByteBuffer(bytes: [0x00, 0x00, 0x04]))
        #expect(throws: Never.self) { try parser.next() }
        parser.append(ByteBuffer(bytes: [0x01]))
        #expect(throws: FrameError.frameTooLarge(length: 1025, maximum: 1024)) { try parser.next() }
        var huge = FrameParser(maximumFrameBytes: 1024)
        huge.append(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF]))
        #expect(throws: FrameError.frameTooLarge(length: UInt32.max, maximum: 1024)) { try huge.next() }
    }

    @Test(arguments: [0, 1, 7] as [UInt32])
    func lengthBelowHeader(length: UInt32) {
        var parser = FrameParser(maximumFrameBytes: 1024)
        var buffer = ByteBuffer()
        buffer.writeInteger(length)
        parser.append(buffer)
        #expect(throws: FrameError.lengthTooSmall(length)) { try parser.next() }
    }

    /// The same refusals when a whole header (and more) is already buffered behind a good frame.
    @Test(arguments: [(0, FrameError.lengthTooSmall(0)), (7, .lengthTooSmall(7)), (1025, .frameTooLarge(length: 1025, maximum: 1024))]
          as [(UInt32, FrameError)])
    func badLengthAfterAGoodFrame(length: UInt32, error: FrameError) throws {
        var parser = FrameParser(maximumFrameBytes: 1024)
        var buffer = ByteBuffer()
        buffer.writeFrame(Self.frames[0])
        buffer.writeInteger(length)
        buffer.writeBytes(Array(repeating: 0, count: 40))
        parser.append(buffer)
        #expect(try parser.next() == Self.frames[0])
        #expect(throws: error) { try parser.next() }
    }

    @Test func reservedBytesAreIgnored() throws {
        var parser = FrameParser(maximumFrameBytes: 1024)
        parser.append(ByteBuffer(bytes: [0, 0, 0, 8, 0x20, 0, 0xBE, 0xEF, 0, 0, 0, 9]))
        let frame = try #require(try parser.next())
        #expect(frame.type == .ping && frame.callID == 9 && frame.body.readableBytes == 0)
    }
}

import Foundation
import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import NIOCore
import Testing

/// Replays the test vectors of Protos/PROTOCOL.md byte for byte (Protos/vectors, beside the document).
@Suite("Protocol test vectors")
struct VectorTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let file: String
        let bytes: [UInt8]
        let frameType: UInt8
        let callID: UInt32
        let bodyType: String
        let bodyJSON: String

        var testDescription: String { file }
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Protos/vectors").standardizedFileURL

    /// Reads the vector files and, from the README, each one's frame type, call id, body type and JSON.
    static func load() throws -> [Vector] {
        let readme = try String(contentsOf: directory.appendingPathComponent("README.md"), encoding: .utf8)
        let sections = readme.components(separatedBy: "\n### `").dropFirst()
        return try sections.map { section in
            let file = String(section.prefix { $0 != "`" })
            let lines = section.components(separatedBy: "\n")
            func value(after label: String) -> String {
                let line = lines.first { $0.hasPrefix("- \(label):") } ?? ""
                return String(line.dropFirst(label.count + 4))
            }
            let typeHex = value(after: "Frame type").split(separator: "`")[0].dropFirst(2)
            let bodyType = String(value(after: "Body").split(separator: "`")[0])
            let json = section.components(separatedBy: "```json\n")[1].components(separatedBy: "\n```")[0]
            let hex = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
                .split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: " ")
                .split(whereSeparator: \.isWhitespace).map { UInt8($0, radix: 16)! }
            return Vector(
                file: file, bytes: hex, frameType: UInt8(typeHex, radix: 16)!,
                callID: UInt32(value(after: "Call id"))!, bodyType: bodyType, bodyJSON: json
            )
        }
    }

    @Test func vectorsArePresent() throws {
        #expect(try Self.load().count >= 10)
    }

    @Test(arguments: try load())
    func replay(vector: Vector) throws {
        var parser = FrameParser(maximumFrameBytes: FrameLayout.absoluteMaximumFrameBytes)
        parser.append(ByteBuffer(bytes: vector.bytes))
        let frame = try #require(try parser.next())
        #expect(!parser.hasPartialFrame, "one frame per file")
        #expect(frame.typeByte == vector.frameType)
        #expect(frame.callID == vector.callID)
        let type = try #require(ProtoRegistry.messages[vector.bodyType])
        try check(type, body: Array(frame.body.readableBytesView), json: vector.bodyJSON)

        var reencoded = ByteBuffer()
        reencoded.writeFrame(frame)
        #expect(Array(reencoded.readableBytesView) == vector.bytes)
    }

    private func check<M: ProtoMessage>(_ type: M.Type, body: [UInt8], json: String) throws {
        let decoded = try ProtoCodec.decode(M.self, from: body)
        let expected = try M(protoJSON: JSONParser.parse(json))
        #expect(decoded == expected)
        #expect(decoded.protoJSON == (try JSONParser.parse(json)), "canonical JSON as documented")
        #expect(ProtoCodec.encode(decoded) == body, "re-encoding reproduces the bytes")
    }
}

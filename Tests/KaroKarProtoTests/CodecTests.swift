import KaroKarMessages
import KaroKarProto
import KaroKarTestSupport
import Testing

@Suite("protobuf-c codec and generated conversions")
struct CodecTests {
    static let messageNames = ProtoRegistry.messages.keys.sorted()

    @Test("every message: populated sample survives JSON -> Swift -> C -> bytes -> C -> Swift -> JSON", arguments: messageNames)
    func populatedRoundTrip(name: String) throws {
        let type = ProtoRegistry.messages[name]!
        let json = SchemaFixtures.sample(messageNamed: name)
        try roundTrip(type, json: json)
    }

    @Test("every message: the default instance encodes to zero bytes and back", arguments: messageNames)
    func defaultRoundTrip(name: String) throws {
        let type = ProtoRegistry.messages[name]!
        let bytes = encodeDefault(type)
        #expect(bytes.isEmpty)
        try #expect(decodeJSON(type, bytes) == .object([]))
    }

    private func roundTrip<M: ProtoMessage>(_ type: M.Type, json: JSONValue) throws {
        let message = try M(protoJSON: json)
        let bytes = ProtoCodec.encode(message)
        let decoded = try ProtoCodec.decode(M.self, from: bytes)
        #expect(decoded == message)
        #expect(ProtoCodec.encode(decoded) == bytes, "encoding is deterministic")
        let reparsed = try M(protoJSON: JSONParser.parse(decoded.protoJSON.jsonText))
        #expect(reparsed == message)
    }

    private func encodeDefault<M: ProtoMessage>(_ type: M.Type) -> [UInt8] {
        ProtoCodec.encode(M())
    }

    private func decodeJSON<M: ProtoMessage>(_ type: M.Type, _ bytes: [UInt8]) throws -> JSONValue {
        try ProtoCodec.decode(M.self, from: bytes).protoJSON
    }

    @Test func oneofMapAndNestedValues() throws {
        let details = CommonV1.ErrorDetails(
            domainCode: "VEHICLE_NOT_AVAILABLE",
            fieldViolations: [CommonV1.FieldViolation(field: "period.end", code: "OUT_OF_RANGE", description: "end <= start")],
            retryInfo: CommonV1.RetryInfo(retryDelayMillis: 250),
            metadata: ["b": "2", "a": "1"]
        )
        let decoded = try ProtoCodec.decode(CommonV1.ErrorDetails.self, from: ProtoCodec.encode(details))
        #expect(decoded == details)
        let response = RPCV1.DescribeTypeResponse(type: .enum(RPCV1.EnumTypeInfo(name: "x", values: [RPCV1.EnumValueInfo(name: "A", number: -3)])))
        #expect(try ProtoCodec.decode(RPCV1.DescribeTypeResponse.self, from: ProtoCodec.encode(response)) == response)
    }

    @Test func unknownEnumValuesAreKept() throws {
        let status = RPCV1.Status(code: RPCV1.Code(rawValue: 99), message: "future")
        let decoded = try ProtoCodec.decode(RPCV1.Status.self, from: ProtoCodec.encode(status))
        #expect(decoded.code == .unrecognized(99))
        #expect(decoded.code.rawValue == 99)
        #expect(decoded.protoJSON["code"] == .number("99"))
    }

    @Test func malformedInputIsRefused() {
        // A length-delimited field whose length runs past the end of the buffer.
        #expect(throws: ProtoDecodingError.malformed) {
            try ProtoCodec.decode(RPCV1.Call.self, from: [0x0A, 0x10, 0x41])
        }
        // Wire type 3 (start group) is not valid proto3.
        #expect(throws: ProtoDecodingError.malformed) {
            try ProtoCodec.decode(RPCV1.Call.self, from: [0x0B])
        }
    }

    @Test func invalidUTF8IsRefused() {
        // field 1 (method), 2 bytes, not UTF-8
        #expect(throws: ProtoDecodingError.invalidUTF8) {
            try ProtoCodec.decode(RPCV1.Call.self, from: [0x0A, 0x02, 0xC3, 0x28])
        }
    }

    @Test("the arena budget turns allocation amplification into a clean error")
    func budgetExceeded() {
        // 20,000 empty metadata entries: 2 wire bytes each, a whole C struct each after decoding.
        let bytes: [UInt8] = (0..<40_000).map { $0 % 2 == 0 ? 0x1A : 0x00 }
        #expect(throws: ProtoDecodingError.budgetExceeded(budget: 100_000)) {
            try bytes.withUnsafeBytes { try ProtoCodec.decode(RPCV1.Call.self, from: $0, budget: 100_000) }
        }
        #expect(throws: Never.self) {
            try bytes.withUnsafeBytes { try ProtoCodec.decode(RPCV1.Call.self, from: $0, budget: 8_000_000) }
        }
    }

    @Test func messageTypesAreShallow() {
        let deepest = ProtoRegistry.messages.values.map { $0.protoMaxDepth }.max() ?? 0
        #expect(deepest > 1)
        #expect(deepest < 12, "message nesting bounds protobuf-c's recursion")
    }
}

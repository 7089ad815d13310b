import KaroKarMessages
import KaroKarProto
import Testing

@Suite("JSON parsing and the proto3 JSON mapping")
struct JSONTests {
    @Test func parsesAndPrints() throws {
        let text = #"{"a":[1,-2.5e3,true,false,null],"b":"\u00e9\n\"x\"","c":{}}"#
        let value = try JSONParser.parse(text)
        #expect(value.jsonText == #"{"a":[1,-2.5e3,true,false,null],"b":"é\n\"x\"","c":{}}"#)
        #expect(try JSONParser.parse(value.prettyJSONText) == value)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"\\x\"", "nul", "[1] 2", "\"\u{01}\"", "\"\\ud800\""])
    func rejectsInvalidJSON(text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(text) }
    }

    @Test func boundsNesting() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(deep) }
    }

    @Test func int64AsStringAndEnumsByName() throws {
        let timestamp = CommonV1.Timestamp(seconds: 1_700_000_000_123, nanos: 5)
        #expect(timestamp.protoJSON.jsonText == #"{"seconds":"1700000000123","nanos":5}"#)
        let parsed = try CommonV1.Timestamp(protoJSON: JSONParser.parse(#"{"seconds": 12, "nanos": "7"}"#))
        #expect(parsed == CommonV1.Timestamp(seconds: 12, nanos: 7))
        let status = try RPCV1.Status(protoJSON: JSONParser.parse(#"{"code":"CODE_NOT_FOUND","message":"x"}"#))
        #expect(status.code == .notFound)
        #expect(status.protoJSON.jsonText == #"{"code":"CODE_NOT_FOUND","message":"x"}"#)
    }

    @Test func acceptsOriginalFieldNamesAndRejectsUnknownOnes() throws {
        let request = try RPCV1.Call(protoJSON: JSONParser.parse(#"{"timeout_micros": "5", "method": "/a/b"}"#))
        #expect(request.timeoutMicros == 5)
        #expect(throws: ProtoJSONError.self) { try RPCV1.Call(protoJSON: JSONParser.parse(#"{"nope": 1}"#)) }
        #expect(throws: ProtoJSONError.self) { try CommonV1.Timestamp(protoJSON: JSONParser.parse(#"{"nanos": 3000000000}"#)) }
        #expect(throws: ProtoJSONError.self) { try RPCV1.Status(protoJSON: JSONParser.parse(#"{"code": "CODE_NOPE"}"#)) }
    }

    @Test func errorsNameTheField() throws {
        do {
            _ = try CommonV1.ErrorDetails(protoJSON: JSONParser.parse(#"{"fieldViolations":[{"field":"a"},{"field":7}]}"#))
            Issue.record("expected an error")
        } catch let error as ProtoJSONError {
            #expect(error.description.hasPrefix("fieldViolations[1].field:"))
        }
    }

    /// protobuf-c would cut a string at a NUL without a word (what `karokar call` sends would not
    /// be what the operator wrote): the JSON reader refuses it, naming where.
    @Test(arguments: [
        (#"{"fieldViolations":[{"field":"a\u0000b"}]}"#, "fieldViolations[0].field: holds NUL"),
        (#"{"metadata":{"k":"\u0000"}}"#, "metadata[k]: holds NUL"),
        (#"{"metadata":{"k\u0000":"v"}}"#, #"metadata: invalid map key "k\u0000""#),
    ])
    func stringsHoldingNulAreRefused(document: String, error expected: String) throws {
        do {
            _ = try CommonV1.ErrorDetails(protoJSON: JSONParser.parse(document))
            Issue.record("expected an error")
        } catch let error as ProtoJSONError {
            #expect(error.description.hasPrefix(expected))
        }
    }

    /// `bytes` fields: standard base64 with padding out; standard or URL-safe, padded or not, in.
    @Test func base64() throws {
        let bytes: [UInt8] = [0, 1, 2, 250, 251, 252, 253]
        #expect(bytes.protoJSON == .string("AAEC+vv8/Q=="))
        #expect(try [UInt8](protoJSON: .string("AAEC+vv8/Q==")) == bytes)
        #expect(try [UInt8](protoJSON: .string("AAEC+vv8/Q")) == bytes)
        #expect(try [UInt8](protoJSON: .string("AAEC-vv8_Q")) == bytes)
        #expect(try [UInt8](protoJSON: .string("AAEC-vv8_Q==")) == bytes)
        #expect(try [UInt8](protoJSON: .string("")) == [])
        for malformed in ["A", "AA=A", "AAEC+vv8/Q=", "AA*A", "AA A"] {
            #expect(throws: ProtoJSONError.self, "\(malformed)") { try [UInt8](protoJSON: .string(malformed)) }
        }
    }

    @Test("JSONString: quotes, backslashes, control characters and U+2028/9 escaped; what it writes parses back to the text")
    func jsonStringEscapes() throws {
        let text = "q\"b\\n\nr\rt\tbell\u{07}nul\u{00}ls\u{2028}ps\u{2029}é😀"
        var out = ""
        JSONString.append(text, to: &out)
        #expect(out == #""q\"b\\n\nr\rt\tbell\u0007nul\u0000ls\u2028ps\u2029é😀""#)
        #expect(try JSONParser.parse(out) == .string(text))
    }
}

import KaroKarMessages
import KaroKarProto
import KaroKarTestSupport
import KaroKarToolSupport
import Testing

/// The CLI's path for any message: JSON text -> message (by type name) -> protobuf bytes ->
/// message -> JSON text, for every type the build knows, with fixtures generated from schemas.
@Suite("CLI JSON round trip, every message type")
struct JSONRoundTripTests {
    static let messageNames = ProtoRegistry.messages.keys.sorted()

    @Test("populated fixture: JSON -> bytes -> JSON is the same document", arguments: messageNames)
    func populated(name: String) throws {
        for seed in [1, 2] {
            let fixture = SchemaFixtures.sample(messageNamed: name, seed: seed)
            let bytes = try MessageCodec.encode(jsonText: fixture.prettyJSONText, typeName: name)
            let hasFields = !ProtoRegistry.messages[name]!.protoSchema.fields.isEmpty
            #expect(bytes.isEmpty == !hasFields, "a populated \(name) has all its fields on the wire")
            let printed = try MessageCodec.json(from: bytes, typeName: name)
            #expect(printed.sortedMembers == fixture.sortedMembers, "the same members (JSON objects are unordered)")
            #expect(try MessageCodec.encode(jsonText: printed.jsonText, typeName: name) == bytes, "printing loses nothing")
        }
    }

    @Test("default instance: {} encodes to no bytes and prints as {}", arguments: messageNames)
    func empty(name: String) throws {
        let bytes = try MessageCodec.encode(jsonText: "{}", typeName: name)
        #expect(bytes.isEmpty)
        #expect(try MessageCodec.json(from: bytes, typeName: name) == .object([]))
    }

    @Test func fixturesCoverEveryKindOfField() {
        let fields = ProtoRegistry.messages.values.flatMap { $0.protoSchema.fields }
        let kinds = Set(fields.map(\.type))
        #expect(kinds.isSuperset(of: ["string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "message", "enum"]))
        #expect(fields.contains { $0.map } && fields.contains { $0.repeated } && fields.contains { !$0.oneof.isEmpty })
    }

    @Test func badInputIsAClearError() {
        #expect(throws: ToolError.self) { try MessageCodec.encode(jsonText: "{", typeName: "karokar.rpc.v1.EchoRequest") }
        #expect(throws: ToolError("the request is not a valid karokar.rpc.v1.EchoRequest: unknown field \"nope\" in karokar.rpc.v1.EchoRequest")) {
            try MessageCodec.encode(jsonText: #"{"nope": 1}"#, typeName: "karokar.rpc.v1.EchoRequest")
        }
        #expect(throws: ToolError.self) { try MessageCodec.encode(jsonText: "{}", typeName: "no.such.Type") }
        #expect(throws: ToolError.self) { try MessageCodec.json(from: [0x0A, 0x10], typeName: "karokar.rpc.v1.EchoRequest") }
    }
}

extension JSONValue {
    /// The same document with every object's members sorted by key.
    var sortedMembers: JSONValue {
        switch self {
        case .array(let elements): .array(elements.map(\.sortedMembers))
        case .object(let members): .object(members.map { JSONMember($0.key, $0.value.sortedMembers) }.sorted { $0.key < $1.key })
        default: self
        }
    }
}

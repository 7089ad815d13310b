import KaroKarRPC
import KaroKarMessages
import KaroKarProto
import NIOCore

/// Every decoding step a hostile peer can reach, for the libFuzzer entry point
/// (`Sources/karokar-fuzz`, run by `Deploy/fuzz.sh`). Not API.
@_spi(Fuzzing)
public enum FuzzHooks {
    /// One fuzzer input. The first byte's low two bits pick the mode: even, server input (frames,
    /// split in chunks of the second byte's size); 1, a binary payload; 3, JSON text, read as a
    /// document and as proto JSON. In the last two, the first byte's other six bits and the
    /// second byte select the message type (``messageTypeIndex(_:_:)``; 14 bits, more than the
    /// number of types).
    public static func input(_ data: [UInt8]) {
        guard data.count >= 2 else { return }
        let bytes = Array(data[2...])
        switch data[0] & 3 {
        case 1: payload(bytes, type: messageTypeIndex(data[0], data[1]))
        case 3: json(bytes, type: messageTypeIndex(data[0], data[1]))
        default: serverInput(bytes, chunkSize: Int(data[1]))
        }
    }

    /// The number of message types a payload or JSON input selects from.
    public static var messageTypeCount: Int { messageNames.count }

    static func messageTypeIndex(_ first: UInt8, _ second: UInt8) -> Int {
        Int(first >> 2) << 8 | Int(second)
    }

    /// The message type a payload or JSON input selects.
    public static func messageTypeName(of input: [UInt8]) -> String? {
        guard input.count >= 2, input[0] & 1 == 1 else { return nil }
        return messageType(messageTypeIndex(input[0], input[1])).protoName
    }

    /// The first two bytes of an input in `mode` (1 or 3) for the message type at `index`.
    static func header(mode: UInt8, index: Int) -> [UInt8] {
        [UInt8(index >> 8 & 0x3F) << 2 | mode, UInt8(index & 0xFF)]
    }

    /// Feeds `bytes` to the server's frame parser in chunks of `chunkSize`, and every complete frame
    /// to the decoder the server would use for its type.
    public static func serverInput(_ bytes: [UInt8], chunkSize: Int) {
        var parser = FrameParser(maximumFrameBytes: 64 * 1024)
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + max(chunkSize, 1), bytes.count)
            parser.append(ByteBuffer(bytes: bytes[offset..<end]))
            offset = end
            do {
                while let frame = try parser.next() { decodeBody(frame) }
            } catch {
                return  // the server closes the connection here
            }
        }
    }

    private static func decodeBody(_ frame: Frame) {
        switch frame.type {
        case .call: checkCallEnvelope(frame.body)
        case .hello: _ = try? frame.body.withUnsafeReadableBytes { try ProtoCodec.decode(RPCV1.Hello.self, from: $0, budget: 16 * 1024) }
        case .reply: _ = try? frame.body.withUnsafeReadableBytes { try ProtoCodec.decode(RPCV1.Reply.self, from: $0) }
        case .drain: _ = try? frame.body.withUnsafeReadableBytes { try ProtoCodec.decode(RPCV1.Drain.self, from: $0) }
        default: break
        }
    }

    /// The server's own CALL reader must agree with protobuf-c on every input: same refusals, same fields.
    private static func checkCallEnvelope(_ body: ByteBuffer) {
        _ = try? CallEnvelope.decode(body, limits: ServerLimits())
        var generous = ServerLimits()
        generous.maximumMetadataBytes = 1 << 20
        generous.maximumMetadataEntries = 1 << 16
        generous.maximumRequestBytes = 1 << 24
        let reference = try? body.withUnsafeReadableBytes { try ProtoCodec.decode(RPCV1.Call.self, from: $0) }
        do {
            let fast = call(try CallEnvelope.decode(body, limits: generous))
            precondition(reference == fast, "CALL reader and protobuf-c disagree on an accepted body")
        } catch {
            guard error.domainCode == TransportDomainCode.malformedPayload, reference != nil else { return }
            // The one allowed difference: protobuf-c 1.4.1 truncates 5-byte tags (a shift bug) where
            // the server refuses them. Read the way protobuf-c does, the body must decode the same.
            // Refusals the server adds on purpose (metadata key syntax, limits) are not disagreements.
            do {
                let lenient = try CallEnvelope.decode(body, limits: generous, truncatingTags: true)
                precondition(call(lenient) == reference, "CALL reader and protobuf-c disagree on a body with long tags")
            } catch {
                precondition(error.domainCode != TransportDomainCode.malformedPayload, "CALL reader refused a body protobuf-c accepts")
            }
        }
    }

    private static func call(_ envelope: CallEnvelope) -> RPCV1.Call {
        RPCV1.Call(
            method: envelope.path, timeoutMicros: envelope.timeoutMicros,
            metadata: envelope.metadata.entries.map { RPCV1.MetadataEntry(key: $0.key, value: $0.value) },
            payload: Array(envelope.payload.readableBytesView)
        )
    }

    /// Decodes `bytes` as the message type at `index` (modulo the number of types, in name
    /// order); whatever decodes must survive the binary and the JSON round trips unchanged
    /// (conversions are lossless). Traps otherwise.
    public static func payload(_ bytes: [UInt8], type index: Int) {
        decodeAndCheck(messageType(index), bytes)
    }

    /// Parses `bytes` as JSON (the parser that reads a bearer token's header and claims before
    /// its signature is checked, and `karokar call`'s requests): what parses must print as text
    /// that parses to the same document; and a document that is proto JSON of the message type
    /// at `index` must give a message that survives both round trips.
    public static func json(_ bytes: [UInt8], type index: Int) {
        guard let document = try? JSONParser.parse(bytes) else { return }
        let again = try? JSONParser.parse(document.jsonText)
        precondition(again == document, "a JSON document changed in a print/parse round trip")
        readAndCheck(messageType(index), document)
    }

    private static let messageNames = ProtoRegistry.messages.keys.sorted()

    private static func messageType(_ index: Int) -> any ProtoMessage.Type {
        ProtoRegistry.messages[messageNames[index % messageNames.count]]!
    }

    private static func decodeAndCheck<M: ProtoMessage>(_ type: M.Type, _ bytes: [UInt8]) {
        guard let message = try? ProtoCodec.decode(M.self, from: bytes) else { return }
        checkRoundTrips(message)
    }

    private static func readAndCheck<M: ProtoMessage>(_ type: M.Type, _ document: JSONValue) {
        guard let message = try? M(protoJSON: document) else { return }
        checkRoundTrips(message)
    }

    /// encode -> decode, and print as JSON text -> parse -> read, both give `message` back.
    private static func checkRoundTrips<M: ProtoMessage>(_ message: M) {
        let decoded = try? ProtoCodec.decode(M.self, from: ProtoCodec.encode(message))
        precondition(decoded.map { same($0, message) } == true, "\(M.protoName) changed in an encode/decode round trip")
        let read = try? M(protoJSON: JSONParser.parse(message.protoJSON.jsonText))
        precondition(read.map { same($0, message, json: true) } == true, "\(M.protoName) changed in a JSON round trip")
    }

    /// Equal; or, for a message holding a NaN double (never equal to another NaN), the same
    /// bytes, or after JSON (which has one NaN, not the payloads and signs of the binary) the same
    /// JSON. (`b == b` cannot tell that a message holds a NaN: an array compares equal to itself
    /// by identity, without looking at its elements.)
    private static func same<M: ProtoMessage>(_ a: M, _ b: M, json: Bool = false) -> Bool {
        if a == b { return true }
        return json ? a.protoJSON == b.protoJSON : ProtoCodec.encode(a) == ProtoCodec.encode(b)
    }

    // MARK: - Seeds

    /// Two seeds per message type: a JSON document that sets every field (the first member of
    /// each oneof; one element of each repeated field and map; nested messages three deep) and
    /// its binary encoding, so that mutations start inside every type's fields instead of at
    /// "unknown field" (`Deploy/fuzz.sh` writes them into the corpus).
    public static func seeds() -> [(name: String, bytes: [UInt8])] {
        messageNames.enumerated().flatMap { index, name -> [(name: String, bytes: [UInt8])] in
            let document = skeleton(name, depth: 0)
            var seeds = [(name: "json-" + name, bytes: header(mode: 3, index: index) + Array(document.jsonText.utf8))]
            if let encoded = encodedSkeleton(messageType(index), document) {
                seeds.append((name: "payload-" + name, bytes: header(mode: 1, index: index) + encoded))
            }
            return seeds
        }
    }

    private static func encodedSkeleton<M: ProtoMessage>(_ type: M.Type, _ document: JSONValue) -> [UInt8]? {
        (try? M(protoJSON: document)).map { ProtoCodec.encode($0) }
    }

    private static func skeleton(_ typeName: String, depth: Int) -> JSONValue {
        guard let type = ProtoRegistry.messages[typeName], depth < 3 else { return .object([]) }
        var oneofs: Set<String> = []
        var members: [JSONMember] = []
        for field in type.protoSchema.fields where field.oneof.isEmpty || oneofs.insert(field.oneof).inserted {
            let value = sample(field.type, typeName: field.typeName, depth: depth)
            if field.map {
                members.append(JSONMember(field.jsonName, .object([JSONMember(sampleKey(field.mapKeyType), value)])))
            } else {
                members.append(JSONMember(field.jsonName, field.repeated ? .array([value]) : value))
            }
        }
        return .object(members)
    }

    private static func sample(_ type: String, typeName: String, depth: Int) -> JSONValue {
        switch type {
        case "message": skeleton(typeName, depth: depth + 1)
        case "enum": .string(ProtoRegistry.enums[typeName]?.protoValues.last?.name ?? "0")
        case "string": .string("s")
        case "bytes": .string("AAE=")
        case "bool": .bool(true)
        case "double", "float": .number("1.5")
        case "int64", "uint64", "sint64", "fixed64", "sfixed64": .string("7")
        default: .number("7")
        }
    }

    private static func sampleKey(_ type: String) -> String {
        switch type {
        case "string": "k"
        case "bool": "true"
        default: "7"
        }
    }
}

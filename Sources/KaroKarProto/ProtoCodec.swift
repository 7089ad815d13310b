internal import CProtobufC
import Glibc

/// Why a payload could not be decoded. Carries no input bytes, so it is safe to show a client.
public enum ProtoDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Not valid protobuf for the expected message type.
    case malformed
    /// Decoding needed more memory than the budget allows (hostile or oversized input).
    case budgetExceeded(budget: Int)
    /// A string field held bytes that are not UTF-8.
    case invalidUTF8
    /// A string field (at this JSON path) held NUL, which protobuf-c would silently cut off.
    case nulInString(field: String)

    public var description: String {
        switch self {
        case .malformed: "payload is not a valid encoding of the expected message"
        case .budgetExceeded(let budget): "payload needs more than \(budget) bytes of memory to decode"
        case .invalidUTF8: "a string field is not valid UTF-8"
        case .nulInString(let field): "string field \(field) holds NUL (U+0000)"
        }
    }
}

/// Encoding and decoding through protobuf-c.
public enum ProtoCodec {
    /// Decode-memory budget for a payload of `length` bytes: protobuf-c may allocate many times the
    /// wire size (an empty sub-message costs two wire bytes and a whole C struct), so the budget is
    /// proportional, with a floor for tiny messages and a hard ceiling.
    @inlinable
    public static func decodeBudget(forPayloadLength length: Int) -> Int {
        min(max(64 * 1024, length * 16), 64 * 1024 * 1024)
    }

    /// Decodes `bytes` as `type`, allocating at most `budget` bytes in an arena.
    ///
    /// protobuf-c recurses once per nesting level; message types are never recursive
    /// (`M.protoMaxDepth` is small), so this is safe on any thread with an ordinary stack.
    ///
    /// The generic entry points are inlinable so that they are specialized where the message type
    /// is known (a server's hot path); the calls into protobuf-c stay behind non-generic functions.
    @inlinable
    public static func decode<M: ProtoMessage>(
        _ type: M.Type, from bytes: UnsafeRawBufferPointer, budget: Int? = nil
    ) throws -> M {
        let budget = budget ?? decodeBudget(forPayloadLength: bytes.count)
        return try ProtoArena.with(budget: budget) { arena in
            try M(cMessage: unpack(M.protoDescriptor, bytes, in: arena, budget: budget))
        }
    }

    @usableFromInline
    static func unpack(
        _ descriptor: ProtoMessageDescriptor, _ bytes: UnsafeRawBufferPointer, in arena: ProtoArena, budget: Int
    ) throws -> UnsafeRawPointer {
        let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        guard let message = protobuf_c_message_unpack(descriptor.c, arena.allocator, bytes.count, base) else {
            throw arena.isExhausted ? ProtoDecodingError.budgetExceeded(budget: budget) : .malformed
        }
        return UnsafeRawPointer(message)
    }

    /// The JSON path (`make`, `filters.make.value`, `items[2].name`) of the first string field of
    /// `bytes`, a well-formed `descriptor` message, that holds NUL, or nil. protobuf-c cuts such a
    /// string at the NUL without a word, so a server refuses them in requests
    /// (``ProtoDecodingError/nulInString(field:)``). Walks the message only when it holds a zero
    /// byte at all, which most do not.
    public static func stringHoldingNul(_ descriptor: ProtoMessageDescriptor, in bytes: UnsafeRawBufferPointer) -> String? {
        guard let base = bytes.baseAddress, memchr(base, 0, bytes.count) != nil else { return nil }
        return ProtoStrings.fieldHoldingNul(in: bytes, descriptor.c)
    }

    /// Whether messages of this type can hold a string at all (when not, no request of it needs
    /// ``stringHoldingNul(_:in:)``): worked out once per method, not per call.
    public static func mayHoldStrings(_ descriptor: ProtoMessageDescriptor) -> Bool {
        ProtoStrings.mayHoldStrings(descriptor.c)
    }

    @inlinable
    public static func decode<M: ProtoMessage>(_ type: M.Type, from bytes: [UInt8]) throws -> M {
        try bytes.withUnsafeBytes { try decode(type, from: $0) }
    }

    /// Encodes `message` without an intermediate copy: `write` receives the encoded size and a
    /// function that packs into memory of at least that size.
    @inlinable
    public static func encode<M: ProtoMessage, R>(
        _ message: M, _ write: (_ size: Int, _ pack: (UnsafeMutableRawPointer) -> Void) throws -> R
    ) rethrows -> R {
        try ProtoArena.with { arena in
            let c = message.makeCMessage(in: arena)
            let size = packedSize(c)
            return try write(size) { out in pack(c, size: size, into: out) }
        }
    }

    @usableFromInline
    static func packedSize(_ message: UnsafeMutableRawPointer) -> Int {
        protobuf_c_message_get_packed_size(message.assumingMemoryBound(to: ProtobufCMessage.self))
    }

    @usableFromInline
    static func pack(_ message: UnsafeMutableRawPointer, size: Int, into out: UnsafeMutableRawPointer) {
        let written = protobuf_c_message_pack(message.assumingMemoryBound(to: ProtobufCMessage.self), out.assumingMemoryBound(to: UInt8.self))
        precondition(written == size, "protobuf-c packed \(written) bytes, announced \(size)")
    }

    @inlinable
    public static func encode<M: ProtoMessage>(_ message: M) -> [UInt8] {
        encode(message) { size, pack in
            [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                if size > 0 { pack(buffer.baseAddress!) }
                count = size
            }
        }
    }
}

internal import CProtobufC
internal import CProtoArena
import Glibc

/// protobuf-c ends a `string` field at its first NUL byte (it hands out C strings), so a string
/// holding NUL would lose its tail without a word, and PostgreSQL's text cannot store NUL anyway.
/// Request decoding therefore refuses it (``ProtoCodec/stringHoldingNul(_:in:)``), naming the field.
enum ProtoStrings {
    /// The JSON path (`filters.make.value`, `items[2].name`) of the first string field of
    /// `bytes` (a `descriptor` message) that holds NUL, or nil. Called for payloads protobuf-c
    /// accepted (so the walk is well-formed).
    static func fieldHoldingNul(in bytes: UnsafeRawBufferPointer, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>) -> String? {
        var found: String?
        var repeats: [(number: UInt32, count: Int)] = []  // occurrences of repeated fields so far
        _ = ProtoWire.scan(bytes) { number, value in
            guard found == nil, case .bytes(let range) = value,
                  let field = protobuf_c_message_descriptor_get_field(descriptor, UInt32(number))?.pointee,
                  field.type == PROTOBUF_C_TYPE_STRING || field.type == PROTOBUF_C_TYPE_MESSAGE
            else { return }
            var index: Int?
            if field.label == PROTOBUF_C_LABEL_REPEATED {
                let seen = repeats.firstIndex { $0.number == number }
                index = seen.map { repeats[$0].count } ?? 0
                if let seen { repeats[seen].count += 1 } else { repeats.append((number, 1)) }
            }
            let slice = UnsafeRawBufferPointer(rebasing: bytes[range])
            // The field's name is made only for the one that holds NUL.
            func name() -> String { jsonName(field.name) + (index.map { "[\($0)]" } ?? "") }
            if field.type == PROTOBUF_C_TYPE_STRING {
                if slice.count > 0, memchr(slice.baseAddress!, 0, slice.count) != nil { found = name() }
            } else if let inner = fieldHoldingNul(in: slice, field.descriptor.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)) {
                found = name() + "." + inner
            }
        }
        return found
    }

    /// True when a message of `descriptor` can hold a string anywhere in its tree (messages
    /// are never recursive: the generator refuses recursion).
    static func mayHoldStrings(_ descriptor: UnsafePointer<ProtobufCMessageDescriptor>) -> Bool {
        let message = descriptor.pointee
        for index in 0..<Int(message.n_fields) {
            let field = message.fields[index]
            if field.type == PROTOBUF_C_TYPE_STRING { return true }
            if field.type == PROTOBUF_C_TYPE_MESSAGE,
               mayHoldStrings(field.descriptor.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)) {
                return true
            }
        }
        return false
    }

    /// protobuf's JSON name: `admin_first_name` is `adminFirstName`.
    static func jsonName(_ name: UnsafePointer<CChar>) -> String {
        var bytes: [UInt8] = []
        var upper = false
        for byte in UnsafeRawBufferPointer(start: name, count: strlen(name)) {
            if byte == UInt8(ascii: "_") {
                upper = true
            } else {
                bytes.append(upper && (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 32 : byte)
                upper = false
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

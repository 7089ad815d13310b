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
        var occurrences: [UInt32: Int] = [:]
        _ = ProtoWire.scan(bytes) { number, value in
            guard found == nil, case .bytes(let range) = value,
                  let field = protobuf_c_message_descriptor_get_field(descriptor, UInt32(number))?.pointee
            else { return }
            let index = occurrences[number, default: 0]
            occurrences[number] = index + 1
            let name = jsonName(field.name) + (field.label == PROTOBUF_C_LABEL_REPEATED ? "[\(index)]" : "")
            let slice = UnsafeRawBufferPointer(rebasing: bytes[range])
            switch field.type {
            case PROTOBUF_C_TYPE_STRING:
                if slice.count > 0, memchr(slice.baseAddress!, 0, slice.count) != nil { found = name }
            case PROTOBUF_C_TYPE_MESSAGE:
                let nested = field.descriptor.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)
                if let inner = fieldHoldingNul(in: slice, nested) { found = name + "." + inner }
            default:
                break
            }
        }
        return found
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

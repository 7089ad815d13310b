/// A single-level walk over protobuf wire format, used to bound an envelope *before* protobuf-c
/// allocates for it (protobuf-c has no size limits of its own).
public enum ProtoWire {
    public enum Value {
        case varint(UInt64)
        case fixed64
        case fixed32
        /// A length-delimited field: its bytes' range within the scanned buffer.
        case bytes(Range<Int>)
    }

    /// Calls `visit` for each top-level field; returns false on malformed input (bad varint,
    /// truncated field, group wire types, field number 0 or above 2^29 - 1).
    ///
    /// `truncatingTags` reads tags the way protobuf-c 1.4.1 does, for differential tests only (the
    /// server itself is strict): up to 5 bytes, cut to 32 bits by a shift bug, and field number 0
    /// kept as an unknown field.
    /// Inlinable: the CALL envelope's decoder runs it for every call, with its visitor inlined.
    @inlinable
    public static func scan(
        _ bytes: UnsafeRawBufferPointer, truncatingTags: Bool = false, _ visit: (_ field: UInt32, _ value: Value) -> Void
    ) -> Bool {
        var index = 0
        while index < bytes.count {
            let start = index
            guard var tag = readVarint(bytes, &index) else { return false }
            if truncatingTags {
                guard index - start <= 5 else { return false }
                tag = UInt64(UInt32(truncatingIfNeeded: tag))
            }
            guard tag >> 3 > 0 || truncatingTags, tag >> 3 <= UInt64(UInt32.max >> 3) else {
                return false
            }
            let field = UInt32(tag >> 3)
            switch tag & 7 {
            case 0:
                guard let value = readVarint(bytes, &index) else { return false }
                visit(field, .varint(value))
            case 1:
                guard bytes.count - index >= 8 else { return false }
                index += 8
                visit(field, .fixed64)
            case 2:
                guard let length = readVarint(bytes, &index), length <= UInt64(bytes.count - index) else { return false }
                visit(field, .bytes(index..<index + Int(length)))
                index += Int(length)
            case 5:
                guard bytes.count - index >= 4 else { return false }
                index += 4
                visit(field, .fixed32)
            default:
                return false
            }
        }
        return true
    }

    @inlinable
    static func readVarint(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) -> UInt64? {
        if index < bytes.count, bytes[index] < 0x80 {  // most tags and lengths: one byte
            index += 1
            return UInt64(bytes[index - 1])
        }
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count, shift < 64 {
            let byte = bytes[index]
            index += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        return nil
    }
}

extension ProtoWire {
    /// Bytes of `value` as a base-128 varint.
    @inlinable
    public static func varintSize(_ value: UInt64) -> Int {
        max(1, (64 - value.leadingZeroBitCount + 6) / 7)
    }

    /// Emits `value` as a base-128 varint, one byte at a time.
    @inlinable
    public static func writeVarint(_ value: UInt64, _ emit: (UInt8) -> Void) {
        var rest = value
        while rest >= 0x80 {
            emit(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        emit(UInt8(rest))
    }
}

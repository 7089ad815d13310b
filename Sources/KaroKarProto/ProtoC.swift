public import CProtoArena

/// Helpers the generated `init(cMessage:)` uses to read protobuf-c's C values.
public enum ProtoC {
    /// A string field; protobuf-c does not check UTF-8, so this does.
    @inlinable
    public static func string(_ pointer: UnsafeMutablePointer<CChar>?) throws -> String {
        guard let pointer else {
            return ""
        }
        guard let string = String(validatingCString: pointer) else {
            throw ProtoDecodingError.invalidUTF8
        }
        return string
    }

    @inlinable
    public static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard data.len > 0, let base = data.data else {
            return []
        }
        return Array(UnsafeBufferPointer(start: base, count: data.len))
    }

    /// A non-null sub-message pointer; protobuf-c never leaves array slots empty.
    @inlinable
    public static func required<T>(_ pointer: UnsafeMutablePointer<T>?) throws -> UnsafeRawPointer {
        guard let pointer else {
            throw ProtoDecodingError.malformed
        }
        return UnsafeRawPointer(pointer)
    }

    @inlinable
    public static func array<C, S>(
        _ base: UnsafeMutablePointer<C>?, count: Int, _ transform: (C) throws -> S
    ) rethrows -> [S] {
        guard count > 0, let base else {
            return []
        }
        var result: [S] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            result.append(try transform(base[index]))
        }
        return result
    }

    /// A map field; like protobuf, the last entry for a repeated key wins.
    @inlinable
    public static func map<E, K: Hashable, V>(
        _ base: UnsafeMutablePointer<UnsafeMutablePointer<E>?>?, count: Int, _ transform: (E) throws -> (K, V)
    ) throws -> [K: V] {
        guard count > 0, let base else {
            return [:]
        }
        var result: [K: V] = [:]
        for index in 0..<count {
            guard let entry = base[index] else {
                throw ProtoDecodingError.malformed
            }
            let (key, value) = try transform(entry.pointee)
            result[key] = value
        }
        return result
    }
}

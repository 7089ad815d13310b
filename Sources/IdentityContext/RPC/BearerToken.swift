import KaroKarKernel
import KaroKarRPC

/// `authorization: Bearer <token>` (RFC 6750; the scheme is case-insensitive). Read as bytes:
/// it is on every call's path.
enum BearerToken {
    private static let scheme = Array("bearer ".utf8)

    /// nil when there is no `authorization` entry; UNAUTHENTICATED when it is not a bearer token.
    static func parse(_ metadata: Metadata) throws(RPCError) -> String? {
        guard let bytes = metadata.bytes(for: Metadata.Key.authorization) else { return nil }
        return try parse(bytes)
    }

    /// The token in an `authorization` value; UNAUTHENTICATED when it is not a bearer token.
    static func parse(_ bytes: [UInt8]) throws(RPCError) -> String {
        let invalid = IdentityErrors.invalidToken.rpcError
        guard bytes.count > scheme.count, bytes.count <= TokenCodec.maximumTokenBytes + scheme.count else { throw invalid }
        for (byte, expected) in zip(bytes, scheme) where ((0x41...0x5A).contains(byte) ? byte | 0x20 : byte) != expected {
            throw invalid
        }
        // Visible ASCII only, so the bytes are their own (valid UTF-8) string.
        guard bytes[scheme.count...].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw invalid }
        return String(decoding: bytes[scheme.count...], as: UTF8.self)
    }
}

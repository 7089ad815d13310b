import KaroKarRPC
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The method of a connection's previous CALL: clients mostly call the same method again, so a
/// CALL whose path bytes equal the previous one's reuses its path text, request cap and route
/// instead of validating, allocating and hashing the path anew. Same bytes, same outcome: the
/// cache changes no answer.
struct MethodCache {
    private var bytes: [UInt8] = []
    private(set) var path = ""
    private(set) var requestCap = 0
    private(set) var target: CallDispatcher.Target?
    /// The previous CALL's first metadata value (its credential, usually: the same bytes on
    /// every call of a connection), handed out again instead of a fresh copy.
    private var metadataValue: [UInt8] = []

    /// The cached path and cap if the field at `range` of `body` holds the cached path's bytes.
    func lookup(_ body: ByteBuffer, _ range: Range<Int>) -> (path: String, requestCap: Int)? {
        Self.holds(body, range, bytes) ? (path, requestCap) : nil
    }

    mutating func store(_ body: ByteBuffer, _ range: Range<Int>, path: String, requestCap: Int) {
        bytes = body.getBytes(at: body.readerIndex + range.lowerBound, length: range.count) ?? []
        self.path = path
        self.requestCap = requestCap
        target = nil
    }

    /// The bytes at `range` of `body`, as the previous call's array when they are equal to it.
    mutating func metadataValue(_ body: ByteBuffer, _ range: Range<Int>) -> [UInt8] {
        if Self.holds(body, range, metadataValue) { return metadataValue }
        metadataValue = body.getBytes(at: body.readerIndex + range.lowerBound, length: range.count) ?? []
        return metadataValue
    }

    /// True when the field at `range` of `body` holds exactly `cached` (never for empty bytes).
    private static func holds(_ body: ByteBuffer, _ range: Range<Int>, _ cached: [UInt8]) -> Bool {
        guard !cached.isEmpty, range.count == cached.count else { return false }
        return body.withUnsafeReadableBytes { readable in
            cached.withUnsafeBytes { memcmp(readable.baseAddress! + range.lowerBound, $0.baseAddress!, range.count) == 0 }
        }
    }

    /// The route for `path` when it is the cached one (an identical string compares in O(1)).
    func target(for path: String) -> CallDispatcher.Target? {
        path == self.path ? target : nil
    }

    mutating func remember(_ target: CallDispatcher.Target, for path: String) {
        if path == self.path { self.target = target }
    }
}

import Foundation
@testable import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import Testing

/// Page tokens are opaque and tamper-evident (issue 19): sealed with a server secret and bound to
/// their list; anything else, including a well-formed token carrying a key no row could have,
/// is INVALID_ARGUMENT and never reaches arithmetic or SQL.
@Suite("Kernel: page tokens")
struct PageTokenTests {
    let tokens = PageTokens(secret: Array(repeating: 7, count: 32))
    let key = TimeKey(Instant(microseconds: 1_800_000_000_000_000), UUID(uuid: (1, 2, 3, 4, 5, 6, 0x47, 8, 0x89, 10, 11, 12, 13, 14, 15, 16)))

    func page<Key: PageKey>(_ type: Key.Type, _ token: String, list: String = "test.rows", tokens: PageTokens? = nil) throws(RPCError) -> Page<Key> {
        try Page<Key>(CommonV1.PageRequest(pageSize: 2, pageToken: token), list: list, tokens: tokens ?? self.tokens)
    }

    func isMalformedToken(_ body: () throws -> Void) -> Bool {
        do {
            try body()
            return false
        } catch let error as RPCError {
            return error.code == .invalidArgument && error.details?.fieldViolations.first?.field == "page.pageToken"
        } catch {
            return false
        }
    }

    @Test func aTokenLeadsToTheNextPage() throws {
        let first = try page(TimeKey.self, "")
        #expect(first.after == nil && first.fetchLimit == 3)
        let (kept, next) = first.cut([key, key, key]) { $0 }
        #expect(kept.count == 2 && !next.nextPageToken.isEmpty)
        #expect(try page(TimeKey.self, next.nextPageToken).after == key)
        #expect(first.cut([key, key]) { $0 }.1.nextPageToken.isEmpty, "no next page when the rows fit")
    }

    @Test func aTamperedTokenIsRefused() throws {
        let token = tokens.seal(key.pageTokenComponents, list: "test.rows")
        var bytes = Array(token.utf8)
        for index in bytes.indices {
            var flipped = bytes
            flipped[index] = flipped[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            let forged = String(decoding: flipped, as: UTF8.self)
            #expect(isMalformedToken { _ = try page(TimeKey.self, forged) }, "byte \(index) changed")
        }
        bytes.removeLast()
        #expect(isMalformedToken { _ = try page(TimeKey.self, String(decoding: bytes, as: UTF8.self)) })
    }

    @Test func aTokenOfAnotherListOrServerIsRefused() throws {
        let token = tokens.seal(key.pageTokenComponents, list: "test.rows")
        #expect(isMalformedToken { _ = try page(TimeKey.self, token, list: "test.other") })
        #expect(isMalformedToken { _ = try page(TimeKey.self, token, tokens: PageTokens(secret: Array(repeating: 8, count: 32))) })
        // The previous format, which crashed the server: unsealed base64url of "v1 US <micros> US <id>".
        let unsealed = Data("v1\u{1F}\(Int64.min)\u{1F}\(key.id.lowercasedString)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        #expect(isMalformedToken { _ = try page(TimeKey.self, unsealed) })
    }

    @Test(arguments: [Int64.min, Int64.max, -2_208_988_800_000_001, 253_402_300_800_000_000])
    func aSealedKeyOutsideWhatRowsHoldIsRefused(micros: Int64) throws {
        let token = tokens.seal([String(micros), key.id.lowercasedString], list: "test.rows")
        #expect(isMalformedToken { _ = try page(TimeKey.self, token) })
    }

    @Test(arguments: ["!!!", "====", String(repeating: "A", count: 5000), "\u{0}", "v1"])
    func garbageIsRefused(token: String) throws {
        #expect(isMalformedToken { _ = try page(TimeKey.self, token) })
        #expect(isMalformedToken { _ = try page(UUID.self, token) })
    }

    @Test func theSizeIsBounded() throws {
        #expect(throws: RPCError.self) { try Page<UUID>(CommonV1.PageRequest(pageSize: 501), list: "x", tokens: tokens) }
        #expect(try Page<UUID>(CommonV1.PageRequest(pageSize: 0), list: "x", tokens: tokens).size == 50)
        #expect(throws: RPCError.self) { try Page<UUID>(CommonV1.PageRequest(pageSize: UInt32.max), list: "x", tokens: tokens, maximum: 10) }
    }
}

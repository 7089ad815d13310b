import Foundation
import KaroKarPostgres
import Testing

@Suite("UUID text without Foundation's formatter")
struct UUIDTextTests {
    @Test("lower-case form and parsing agree with Foundation, either case")
    func roundTrip() {
        for _ in 0..<1000 {
            let id = UUID()
            #expect(id.lowercasedString == id.uuidString.lowercased())
            #expect(UUID(hyphenated: id.lowercasedString) == id)
            #expect(UUID(hyphenated: id.uuidString) == id)
        }
    }

    @Test("random UUIDs are version 4, RFC 4122 variant, and distinct")
    func random() {
        var seen = Set<UUID>()
        for _ in 0..<10_000 {
            let id = UUID.random()
            let text = id.lowercasedString
            #expect(text[text.index(text.startIndex, offsetBy: 14)] == "4")
            #expect("89ab".contains(text[text.index(text.startIndex, offsetBy: 19)]))
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
    }

    @Test("time-ordered UUIDs are version 7 with the millisecond in front: distinct, ordered by time, clamped outside 0 ... 2^48 - 1")
    func timeOrdered() {
        var seen = Set<UUID>()
        for _ in 0..<10_000 {
            let text = UUID.timeOrdered(unixMilliseconds: 1_764_979_200_123).lowercasedString
            #expect(text.hasPrefix("019af0f5-507b-7"), "\(text)")  // 0x019af0f5507b = 1,764,979,200,123
            #expect("89ab".contains(text[text.index(text.startIndex, offsetBy: 19)]))
            seen.insert(UUID(hyphenated: text)!)
        }
        #expect(seen.count == 10_000)
        let earlier = UUID.timeOrdered(unixMilliseconds: 1_000).lowercasedString
        let later = UUID.timeOrdered(unixMilliseconds: 1_001).lowercasedString
        #expect(earlier < later)
        #expect(UUID.timeOrdered(unixMilliseconds: -5).lowercasedString.hasPrefix("00000000-0000-7"))
        #expect(UUID.timeOrdered(unixMilliseconds: .max).lowercasedString.hasPrefix("ffffffff-ffff-7"))
    }

    @Test("anything but the 36-character hyphenated form is refused", arguments: [
        "", "6f1c0a3e", "6f1c0a3e-9b2d-4c1e-8f3a-2b4c6d8e0f1", "6f1c0a3e-9b2d-4c1e-8f3a-2b4c6d8e0f1a0",
        "6f1c0a3e9b2d-4c1e-8f3a-2b4c6d8e0f1a-", "6f1c0a3e-9b2d-4c1e-8f3a-2b4c6d8e0f1g", "{6f1c0a3e-9b2d-4c1e-8f3a-2b4c6d8e0f1}",
        "6f1c0a3e-9b2d-4c1e-8f3a-2b4c6d8e0f1é",
    ])
    func malformed(text: String) {
        #expect(UUID(hyphenated: text) == nil)
        #expect(UUID(uuidString: text) == nil, "Foundation agrees")
    }
}

@testable import KaroKarRPC
import Testing

/// Call and connection attributes: typed by key, replaced and removed per key, independent of
/// each other's keys.
@Suite("Call and connection attributes")
struct AttributesTests {
    enum Name: CallAttributeKey { typealias Value = String }
    enum Count: CallAttributeKey { typealias Value = Int }

    final class Box: Sendable {
        let value: Int
        init(_ value: Int) { self.value = value }
    }
    enum First: ConnectionAttributeKey { typealias Value = Box }
    enum Second: ConnectionAttributeKey { typealias Value = Box }

    @Test func callAttributesAreSetReplacedAndRemovedPerKey() {
        var attributes = CallAttributes()
        #expect(attributes.isEmpty && attributes[Name.self] == nil)
        attributes[Name.self] = "a"
        attributes[Count.self] = 1
        attributes[Name.self] = "b"
        #expect(attributes[Name.self] == "b" && attributes[Count.self] == 1)
        attributes[Name.self] = nil
        #expect(attributes[Name.self] == nil && attributes[Count.self] == 1 && !attributes.isEmpty)
        let copy = attributes
        attributes[Count.self] = 2
        #expect(copy[Count.self] == 1, "a value: copies do not see later changes")
    }

    @Test func connectionAttributesAreSharedAndKeyedByType() {
        let connection = ConnectionAttributes()
        #expect(connection[First.self] == nil)
        let one = Box(1)
        connection[First.self] = one
        connection[Second.self] = Box(2)
        #expect(connection[First.self] === one && connection[Second.self]?.value == 2)
        connection[First.self] = Box(3)
        #expect(connection[First.self]?.value == 3 && connection[Second.self]?.value == 2)
        connection[Second.self] = nil
        #expect(connection[Second.self] == nil && connection[First.self]?.value == 3)
    }
}

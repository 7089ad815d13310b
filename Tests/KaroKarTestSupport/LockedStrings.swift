import NIOConcurrencyHelpers

/// A thread-safe list of strings, for recording what concurrent code did.
public final class LockedStrings: Sendable {
    private let box = NIOLockedValueBox<[String]>([])

    public init() {}

    public func append(_ value: String) {
        box.withLockedValue { $0.append(value) }
    }

    public var all: [String] {
        box.withLockedValue { $0 }
    }
}

import Foundation

/// The time of day, injected (STYLE.md habit 2): every "now" of a business rule, an event's
/// `occurredAt` and a token's lifetime reads one, so tests move time instead of sleeping.
/// Timeouts of the runtime (deadlines, cache lifetimes) use monotonic clocks instead.
public protocol WallClock: Sendable {
    func now() -> Instant
}

/// The system's clock.
public struct SystemClock: WallClock {
    public init() {}

    public func now() -> Instant { Instant(Date()) }
}

public import KaroKarKernel
import Synchronization

/// A wall clock that moves only when a test moves it: tests that wait for something to expire
/// advance it instead of sleeping.
public final class ManualClock: WallClock {
    private let instant: Mutex<Instant>

    public init(_ start: Instant = Instant(microseconds: 1_900_000_000_000_000)) {
        instant = Mutex(start)
    }

    public func now() -> Instant { instant.withLock { $0 } }

    public func advance(by duration: Duration) {
        instant.withLock { $0 = $0.advanced(by: duration) }
    }

    public func set(_ to: Instant) {
        instant.withLock { $0 = to }
    }
}

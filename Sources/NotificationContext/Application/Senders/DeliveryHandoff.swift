import KaroKarKernel
import Synchronization

/// Deliveries planned in this process and handed straight to its senders, without a claim
/// ("direct dispatch"). Planning writes up to ``room`` of its PENDING deliveries already leased
/// (one attempt counted, due again when the lease ends, as a claim leaves them) and, once its
/// transaction has committed, hands them over here; the senders' loop takes them before it
/// claims. So a delivery is sent as soon as it is committed, and costs no claim: no claiming
/// statement, no second index-maintaining update of its row.
///
/// Bounded: planning leases at most the room left (``capacity`` less what waits, none while the
/// senders are behind: their claims come back full of deliveries due for a while,
/// ``NotificationOptions/behindAfter``); the rest is written unleased and claimed as before. A handed delivery not taken within
/// ``maximumWait`` (half its lease: the senders stalled behind a slow server) is dropped here: it
/// is due again when its lease ends and is claimed then, never sent by two senders at once. One
/// that is never sent (the process stops) is due again when its lease ends, like a claimed one.
final class DeliveryHandoff: Sendable {
    let capacity: Int
    let maximumWait: Duration
    /// Rung when deliveries are handed over (the senders' loop waits on it between claims).
    let bell = Doorbell()
    private let queue = Mutex<[(delivery: OutgoingDelivery, handed: ContinuousClock.Instant)]>([])
    private let backlog = Mutex(false)

    init(capacity: Int, maximumWait: Duration) {
        self.capacity = max(0, capacity)
        self.maximumWait = maximumWait
    }

    /// How many deliveries planning may lease for this process's senders now: none while the
    /// table has a backlog of due deliveries (new ones then queue behind it, first come first
    /// served, instead of overtaking it).
    var room: Int {
        guard !backlog.withLock({ $0 }) else { return 0 }
        return queue.withLock { max(0, capacity - $0.count) }
    }

    /// Whether the senders' last claim said they are behind (``NotificationOptions/isBehind(_:limit:)``).
    func setBacklog(_ behind: Bool) {
        backlog.withLock { $0 = behind }
    }

    /// Deliveries waiting for a sender slot.
    var waiting: Int { queue.withLock { $0.count } }

    /// After the planning transaction committed: queues the leased deliveries it wrote, never
    /// past ``capacity`` (planning leases no more than ``room``; should two planners of one
    /// process ever meet, the excess is dropped and claimed once its lease ends). Returns how
    /// many were dropped.
    @discardableResult
    func hand(_ deliveries: [OutgoingDelivery]) -> Int {
        guard !deliveries.isEmpty else { return 0 }
        let now = ContinuousClock.now
        let dropped = queue.withLock { queue in
            let kept = deliveries.prefix(max(0, capacity - queue.count))
            queue.append(contentsOf: kept.map { ($0, now) })
            return deliveries.count - kept.count
        }
        bell.ring()
        return dropped
    }

    /// Up to `limit` handed deliveries, oldest first, dropping those that waited longer than
    /// ``maximumWait``.
    func take(_ limit: Int, now: ContinuousClock.Instant = .now) -> [OutgoingDelivery] {
        guard limit > 0 else { return [] }
        return queue.withLock { queue in
            let stale = queue.prefix { now - $0.handed > maximumWait }.count
            queue.removeFirst(stale)
            let taken = queue.prefix(limit).map(\.delivery)
            queue.removeFirst(taken.count)
            return taken
        }
    }
}

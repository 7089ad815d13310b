import Foundation
import KaroKarKernel
import KaroKarPostgres
import Logging

/// The senders' loop of one server process: takes the deliveries planning handed over at commit
/// (``DeliveryHandoff``), claims the other due ones (``DeliveryStore/claim``, `FOR UPDATE SKIP
/// LOCKED`, so processes never claim the same row), sends up to
/// ``NotificationOptions/maximumInFlight`` at once, each on its own (a slow or failing recipient
/// or channel holds a slot, never the others), and records each outcome under its claim: SENT,
/// PENDING again after a backoff with jitter, or FAILED when the attempts run out or the refusal
/// is permanent. Without a handoff it claims as slots free up and at least every poll interval;
/// with one, every poll interval and again while claims come back full. Sent
/// deliveries are recorded together (``SentRecorder``: one statement for all that finished while
/// the previous one ran), not one round trip each; a slot is free again once its message is
/// sent, not once SENT is written, and the loop claims nothing while more than
/// ``maximumUnrecorded`` sent deliveries wait to be recorded (the database slower than the
/// senders), so the recorder's queue stays bounded.
struct DeliverySenders {
    let notification: Notification
    let recorder: SentRecorder

    init(notification: Notification) {
        self.notification = notification
        recorder = SentRecorder(pool: notification.environment.pool, logger: notification.environment.logger)
    }

    var options: NotificationOptions { notification.options }
    var logger: Logger { notification.environment.logger }
    var maximumUnrecorded: Int { 8 * options.maximumInFlight }

    func run() async {
        await loop()
        // What was sent is recorded before the process stops, unless the database takes longer
        // than 5 s (those are due again after their lease, as after a crash).
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await recorder.drain() }
            group.addTask { try? await Task.sleep(for: .seconds(5)) }
            await group.next()
            group.cancelAll()
        }
        for sender in notification.senders.values { await sender.close() }
    }

    /// What ended one of the loop's waits.
    private enum Wake: Sendable {
        case sent, handed, tick
    }

    private func loop() async {
        let pool = notification.environment.pool
        let channels = Array(notification.senders.keys)
        let handoff = notification.handoff
        await withTaskGroup(of: Wake.self) { group in
            var inFlight = 0
            var waiting = false
            // Without a handoff every pass claims. With one, planned deliveries arrive handed
            // over, and a claim (retries, another process's expired leases, what did not fit
            // the handoff) runs on the first pass, every poll interval, and again at once while
            // claims come back full. While they come back full of deliveries due for longer than
            // `behindAfter` (a backlog in the table), planning leases nothing (new deliveries
            // queue behind the backlog); while claims come back full, what was handed before gets
            // about half the free slots (at least one), so neither side waits on the other.
            // Claims go in batches of at least half the slots (or whatever is free once a poll
            // interval has passed since the last claim).
            var claimDue = true
            var lastClaim: ContinuousClock.Instant?
            while !Task.isCancelled {
                var free = await recorder.backlog > maximumUnrecorded ? 0 : options.maximumInFlight - inFlight
                let slots = free
                // Handoffs ring the loop awake more often than the poll interval under steady
                // load: a claim's turn comes by the clock, not by a quiet tick.
                let claimTime = lastClaim.map { ContinuousClock.now - $0 >= options.pollInterval } ?? true
                if claimTime { claimDue = true }
                func start(_ deliveries: [OutgoingDelivery]) {
                    for delivery in deliveries {
                        inFlight += 1
                        free -= 1
                        group.addTask { await send(delivery); return .sent }
                    }
                }
                if let handoff, claimDue, free > 0 {
                    start(handoff.take((free + 1) / 2))  // at least one slot: handed ones always move
                }
                if free > 0, claimDue || handoff == nil, claimTime || slots * 2 >= options.maximumInFlight {
                    lastClaim = .now
                    do {
                        let limit = free
                        let claim = try await DeliveryStore.claim(limit: limit, lease: options.lease, channels: channels, pool: pool)
                        claimDue = claim.deliveries.count == limit
                        handoff?.setBacklog(options.isBehind(claim, limit: limit))
                        start(claim.deliveries)
                    } catch is CancellationError {
                        break
                    } catch {
                        logger.warning("cannot claim deliveries", metadata: ["error": "\(error)"])
                    }
                }
                if let handoff, free > 0 {
                    start(handoff.take(free))
                }
                if !waiting {
                    waiting = true
                    let interval = options.pollInterval
                    group.addTask {
                        guard let handoff else {
                            try? await Task.sleep(for: interval)
                            return .tick
                        }
                        return await handoff.bell.wait(timeout: interval) ? .handed : .tick
                    }
                }
                // Wait for a handoff, the next tick, or half the slots to be free again.
                while let wake = await group.next() {
                    switch wake {
                    case .sent: inFlight -= 1
                    case .handed: waiting = false
                    case .tick: waiting = false
                    }
                    if wake != .sent || inFlight <= options.maximumInFlight / 2 || Task.isCancelled { break }
                }
            }
            group.cancelAll()
        }
    }

    func send(_ delivery: OutgoingDelivery) async {
        let pool = notification.environment.pool
        guard let sender = notification.senders[delivery.channel] else { return }
        do {
            try await sender.send(delivery)
            await recorder.enqueue(delivery)
        } catch let failure as SendFailure {
            let last = failure.isPermanent || delivery.attempt >= options.maximumAttempts
            let delay = last ? nil : options.retryDelay(afterAttempts: delivery.attempt)
            logger.notice("delivery attempt failed", metadata: [
                "delivery": "\(delivery.id.lowercasedString)", "channel": "\(delivery.channel.rawValue)", "attempt": "\(delivery.attempt)",
                "final": "\(last)", "error": "\(failure.description)",
            ])
            do {
                try await DeliveryStore.failed(delivery, error: failure.description, retryIn: delay, pool: pool)
            } catch {
                // The lease ends and the delivery is due again.
                logger.warning("cannot record a failed delivery", metadata: ["delivery": "\(delivery.id.lowercasedString)", "error": "\(error)"])
            }
        } catch {
            logger.warning("delivery attempt failed", metadata: ["delivery": "\(delivery.id.lowercasedString)", "error": "\(error)"])
        }
    }
}

/// Records sent deliveries in batches, like a group commit: a delivery sent while a batch is
/// being written waits for the next one, which takes everything that arrived meanwhile (at most
/// ``maximumBatch``). So a busy sender writes one statement per batch, an idle one per delivery
/// (no timer, no added latency). Senders hand a delivery over and go on (``enqueue(_:)``); a
/// batch that cannot be written (the database) is logged and its deliveries are due again after
/// their lease and sent again with the same Message-ID, as when the process dies before
/// recording them.
actor SentRecorder {
    static let maximumBatch = 500

    let pool: PostgresPool
    let logger: Logger
    private var queue: [OutgoingDelivery] = []
    private var writing = 0
    private var drained: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextWaiter = 0

    init(pool: PostgresPool, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    /// Sent deliveries not yet recorded (queued or being written).
    var backlog: Int { queue.count + writing }

    func enqueue(_ delivery: OutgoingDelivery) {
        queue.append(delivery)
        if writing == 0 {
            writing = min(queue.count, Self.maximumBatch)
            Task { await self.write() }
        }
    }

    /// Returns once every delivery handed over so far is recorded (or its batch failed), or the
    /// task is cancelled.
    func drain() async {
        guard backlog > 0 else { return }
        nextWaiter += 1
        let id = nextWaiter
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled { continuation.resume() } else { drained[id] = continuation }
            }
        } onCancel: {
            Task { await self.release(id) }
        }
    }

    private func release(_ id: Int) {
        drained.removeValue(forKey: id)?.resume()
    }

    private func write() async {
        while !queue.isEmpty {
            let batch = Array(queue.prefix(Self.maximumBatch))
            queue.removeFirst(batch.count)
            writing = batch.count
            do {
                try await DeliveryStore.sent(batch, pool: pool)
            } catch {
                logger.warning("cannot record sent deliveries; they are due again when their leases end", metadata: [
                    "deliveries": "\(batch.count)", "error": "\(error)",
                ])
            }
        }
        writing = 0
        for waiter in drained.values { waiter.resume() }
        drained = [:]
    }
}

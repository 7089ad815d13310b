import Foundation
import KaroKarKernel
import KaroKarPostgres
import Logging

/// The senders' loop of one server process: claims due deliveries (``DeliveryStore/claim``, `FOR
/// UPDATE SKIP LOCKED`, so processes never claim the same row), sends up to
/// ``NotificationOptions/maximumInFlight`` at once, each on its own (a slow or failing recipient
/// or channel holds a slot, never the others), and records each outcome under its claim: SENT,
/// PENDING again after a backoff with jitter, or FAILED when the attempts run out or the refusal
/// is permanent. It claims more as slots free up, and at least every poll interval. Sent
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

    private func loop() async {
        let pool = notification.environment.pool
        let channels = Array(notification.senders.keys)
        await withTaskGroup(of: Bool.self) { group in
            var inFlight = 0
            var ticking = false
            while !Task.isCancelled {
                let free = await recorder.backlog > maximumUnrecorded ? 0 : options.maximumInFlight - inFlight
                if free > 0 {
                    do {
                        for delivery in try await DeliveryStore.claim(limit: free, lease: options.lease, channels: channels, pool: pool) {
                            inFlight += 1
                            group.addTask { await send(delivery); return true }
                        }
                    } catch is CancellationError {
                        break
                    } catch {
                        logger.warning("cannot claim deliveries", metadata: ["error": "\(error)"])
                    }
                }
                if !ticking {
                    ticking = true
                    let interval = options.pollInterval
                    group.addTask { try? await Task.sleep(for: interval); return false }
                }
                // Wait for a send to end or the next tick; claim again once enough slots are free.
                while let finished = await group.next() {
                    if finished { inFlight -= 1 } else { ticking = false }
                    if !finished || inFlight <= options.maximumInFlight / 2 || Task.isCancelled { break }
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

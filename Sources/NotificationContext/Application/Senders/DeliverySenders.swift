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
/// the previous one ran), not one round trip each.
struct DeliverySenders {
    let notification: Notification
    let recorder: SentRecorder

    init(notification: Notification) {
        self.notification = notification
        recorder = SentRecorder(pool: notification.environment.pool)
    }

    var options: NotificationOptions { notification.options }
    var logger: Logger { notification.environment.logger }

    func run() async {
        await loop()
        for sender in notification.senders.values { await sender.close() }
    }

    private func loop() async {
        let pool = notification.environment.pool
        let channels = Array(notification.senders.keys)
        await withTaskGroup(of: Bool.self) { group in
            var inFlight = 0
            var ticking = false
            while !Task.isCancelled {
                let free = options.maximumInFlight - inFlight
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
            try await recorder.record(delivery)
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
            // Recording SENT failed (the database): the lease ends and it is sent again, with the
            // same Message-ID / idempotency key.
            logger.warning("cannot record a sent delivery", metadata: ["delivery": "\(delivery.id.lowercasedString)", "error": "\(error)"])
        }
    }
}

/// Records sent deliveries in batches, like a group commit: a delivery sent while a batch is
/// being written waits for the next one, which takes everything that arrived meanwhile (at most
/// ``maximumBatch``). So a busy sender writes one statement per batch, an idle one per delivery
/// (no timer, no added latency). A delivery not yet recorded when its process dies is due again
/// after its lease and sent again with the same Message-ID (as one in flight would be).
actor SentRecorder {
    static let maximumBatch = 500

    let pool: PostgresPool
    private var queue: [(delivery: OutgoingDelivery, done: CheckedContinuation<Void, any Error>)] = []
    private var writing = false

    init(pool: PostgresPool) {
        self.pool = pool
    }

    func record(_ delivery: OutgoingDelivery) async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            queue.append((delivery, done))
            if !writing {
                writing = true
                Task { await self.write() }
            }
        }
    }

    private func write() async {
        while !queue.isEmpty {
            let batch = Array(queue.prefix(Self.maximumBatch))
            queue.removeFirst(batch.count)
            do {
                try await DeliveryStore.sent(batch.map(\.delivery), pool: pool)
                for entry in batch { entry.done.resume() }
            } catch {
                for entry in batch { entry.done.resume(throwing: error) }
            }
        }
        writing = false
    }
}

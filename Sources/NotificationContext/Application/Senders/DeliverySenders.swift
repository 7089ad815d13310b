import Foundation
import KaroKarKernel
import Logging

/// The senders' loop of one server process: claims due deliveries (``DeliveryStore/claim``, `FOR
/// UPDATE SKIP LOCKED`, so processes never claim the same row), sends up to
/// ``NotificationOptions/maximumInFlight`` at once, each on its own (a slow or failing recipient
/// or channel holds a slot, never the others), and records each outcome under its claim: SENT,
/// PENDING again after a backoff with jitter, or FAILED when the attempts run out or the refusal
/// is permanent. It claims more as slots free up, and at least every poll interval.
struct DeliverySenders {
    let notification: Notification

    var options: NotificationOptions { notification.options }
    var logger: Logger { notification.environment.logger }

    func run() async {
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
            try await DeliveryStore.sent(delivery, pool: pool)
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

import Foundation
import KaroKarKernel

/// Retention: deliveries that are done with (SENT or SKIPPED; in-app messages once read) are
/// deleted ``NotificationOptions/retention`` after they were created, by a sweep every server
/// process runs; FAILED deliveries (the operator's to retry) and unread messages stay. Each
/// statement deletes a bounded batch, skipping rows another process is deleting, so several
/// processes sweep side by side. The learned closed bookings go with the same period.
extension Notification {
    /// One pass, batch after batch until none is full; returns how many deliveries it deleted.
    @discardableResult
    nonisolated func pruneOldDeliveries() async throws -> Int {
        guard let retention = options.retention else { return 0 }
        let cutoff = environment.clock.now().advanced(by: .zero - retention)
        let batch = options.retentionBatchSize
        var deleted = 0
        while !Task.isCancelled {
            let count = try await DeliveryStore.prune(before: cutoff, limit: batch, pool: environment.pool)
            deleted += count
            if count < batch { break }
        }
        while !Task.isCancelled, try await DeliveryStore.pruneBookings(before: cutoff, limit: batch, pool: environment.pool) == batch {}
        return deleted
    }

    nonisolated func prunePeriodically(every interval: Duration) async {
        let logger = environment.logger
        while !Task.isCancelled {
            do {
                let deleted = try await pruneOldDeliveries()
                if deleted > 0 { logger.notice("old deliveries deleted", metadata: ["notification.pruned": "\(deleted)"]) }
            } catch {
                logger.warning("delivery retention sweep failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}

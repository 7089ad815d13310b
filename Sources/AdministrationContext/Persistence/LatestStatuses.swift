import Foundation

/// The dashboard's counts from a batch of events: each entity's status at the latest version the
/// batch tells (one row per entity, so one upsert statement takes the batch).
struct LatestStatuses {
    private var latest: [UUID: (status: String, version: Int64)] = [:]

    var isEmpty: Bool { latest.isEmpty }

    mutating func note(_ id: UUID, status: String, version: Int64) {
        if let known = latest[id], known.version >= version { return }
        latest[id] = (status, version)
    }

    /// The three columns of the upsert, row by row in one pass.
    var columns: (ids: [UUID], statuses: [String], versions: [Int64]) {
        var columns: (ids: [UUID], statuses: [String], versions: [Int64]) = ([], [], [])
        for (id, entry) in latest {
            columns.ids.append(id)
            columns.statuses.append(entry.status)
            columns.versions.append(entry.version)
        }
        return columns
    }
}

import KaroKarKernel

/// What an availability record holds the vehicle for (DOMAIN.md section 5).
enum HoldStatus: String, Sendable, CaseIterable {
    case reserved = "RESERVED"
    case allocated = "ALLOCATED"
    case maintenance = "MAINTENANCE"
    case suspended = "SUSPENDED"
    case blocked = "BLOCKED"
}

/// The kind of thing that owns an availability record.
enum HoldSource: String, Sendable, CaseIterable {
    case booking = "BOOKING"
    case assignment = "ASSIGNMENT"
    case maintenance = "MAINTENANCE"
    case suspension = "SUSPENSION"
    case manualBlock = "MANUAL_BLOCK"
}

/// The shape rules of a record, also enforced by the database's CHECK constraints; checked here
/// first to answer with a clear field violation instead of a constraint name.
enum HoldRules {
    static func sourceFits(_ status: HoldStatus, _ source: HoldSource) -> Bool {
        switch status {
        case .reserved: source == .booking
        case .allocated: source == .booking || source == .assignment
        case .maintenance: source == .maintenance
        case .suspended: source == .suspension
        case .blocked: source == .manualBlock
        }
    }

    /// Open ends are explicit and only for suspensions and open-ended assignments.
    static func mayBeOpenEnded(_ status: HoldStatus, _ source: HoldSource) -> Bool {
        status == .suspended || (status == .allocated && source == .assignment)
    }

    /// The only status change: an approved booking's reservation becomes an allocation.
    static func mayChange(from old: HoldStatus, to new: HoldStatus) -> Bool {
        old == .reserved && new == .allocated
    }
}

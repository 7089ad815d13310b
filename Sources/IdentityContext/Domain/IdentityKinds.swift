import KaroKarKernel

/// Statuses as stored (upper-case names; the database's CHECK constraints list the same). The
/// wire's enums are mapped at the RPC edge, the events' in `Application/IdentityEvents.swift`.
enum UserStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case active = "ACTIVE"
    case disabled = "DISABLED"
}

enum MembershipStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case invited = "INVITED"
    case active = "ACTIVE"
    case suspended = "SUSPENDED"
    case removed = "REMOVED"
}

enum ServiceAccountStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case active = "ACTIVE"
    case revoked = "REVOKED"
}

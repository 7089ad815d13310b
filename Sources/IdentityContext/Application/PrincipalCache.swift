import Foundation
import Synchronization

/// Whose principal a cache entry is.
enum PrincipalKey: Hashable, Sendable {
    case membership(UUID)
    case serviceAccount(UUID)
}

/// What a change affects.
enum AccessScope: Hashable, Sendable {
    case membership(UUID)
    case user(UUID)
    case serviceAccount(UUID)
    case organization(UUID)
}

/// Resolved principals, kept briefly so that a call's authorization costs no database round
/// trip (issue 4's performance target). Entries live `timeToLive`; Identity invalidates them at
/// once when it changes a membership, a user, a service account or an organization's status, and
/// other processes learn of changes through ``AccessChangeSignal``.
///
/// Two guards keep an invalidation from being undone by a load that read the database before
/// the change: a generation counter (a load that started before an invalidation does not store
/// its result), and hold-offs (for changes invalidated before their transaction commits, nothing
/// about the scope is stored until the hold-off ends).
final class PrincipalCache: Sendable {
    enum Lookup {
        /// nil: known not to be an active principal.
        case hit(Principal?)
        case miss(generation: UInt64)
    }

    private struct Entry {
        var principal: Principal?
        var storedAt: ContinuousClock.Instant
    }

    private struct State {
        var entries: [PrincipalKey: Entry] = [:]
        var generation: UInt64 = 0
        var holds: [AccessScope: ContinuousClock.Instant] = [:]
    }

    let timeToLive: Duration
    let maximumEntries: Int
    let now: @Sendable () -> ContinuousClock.Instant
    private let state = Mutex(State())
    /// `state.generation`, readable without the lock: a connection's memo of its last credential
    /// (``AuthorizationInterceptor``) is good only while it is unchanged.
    private let publishedGeneration = Atomic<UInt64>(0)

    init(timeToLive: Duration, maximumEntries: Int = 100_000, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.timeToLive = timeToLive
        self.maximumEntries = maximumEntries
        self.now = now
    }

    func lookup(_ key: PrincipalKey) -> Lookup {
        let instant = now()
        return state.withLock { state in
            if let entry = state.entries[key], instant - entry.storedAt < timeToLive { return .hit(entry.principal) }
            return .miss(generation: state.generation)
        }
    }

    /// An active principal's entry with the generation it was read under and when it expires;
    /// nil when there is none (missing, expired, or known inactive).
    func snapshot(_ key: PrincipalKey) -> (principal: Principal, generation: UInt64, expires: ContinuousClock.Instant)? {
        let instant = now()
        return state.withLock { state in
            guard let entry = state.entries[key], let principal = entry.principal, instant - entry.storedAt < timeToLive else { return nil }
            return (principal, state.generation, entry.storedAt + timeToLive)
        }
    }

    /// Changes with every invalidation.
    var generation: UInt64 { publishedGeneration.load(ordering: .acquiring) }

    /// Stores a load that began at `generation`, unless something was invalidated since or a
    /// hold-off covers it.
    func store(_ key: PrincipalKey, _ principal: Principal?, loadedAt generation: UInt64) {
        let instant = now()
        state.withLock { state in
            guard state.generation == generation else { return }
            guard !Self.scopes(of: key, principal).contains(where: { state.holds[$0].map { instant < $0 } ?? false }) else { return }
            if state.entries.count >= maximumEntries { state.entries.removeAll(keepingCapacity: true) }
            state.entries[key] = Entry(principal: principal, storedAt: instant)
        }
    }

    /// Drops every entry `scope` covers; with a hold-off, keeps them out until it ends (use it
    /// when the change has not committed yet).
    func invalidate(_ scope: AccessScope, holdOff: Duration = .zero) {
        let instant = now()
        state.withLock { state in
            state.generation &+= 1
            publishedGeneration.store(state.generation, ordering: .releasing)
            state.entries = state.entries.filter { !Self.scopes(of: $0.key, $0.value.principal).contains(scope) }
            state.holds = state.holds.filter { instant < $0.value }
            if holdOff > .zero { state.holds[scope] = instant + holdOff }
        }
    }

    /// Drops everything (another process changed something).
    func invalidateAll() {
        state.withLock { state in
            state.generation &+= 1
            publishedGeneration.store(state.generation, ordering: .releasing)
            state.entries.removeAll()
        }
    }

    var count: Int { state.withLock { $0.entries.count } }

    private static func scopes(of key: PrincipalKey, _ principal: Principal?) -> [AccessScope] {
        var scopes: [AccessScope]
        switch key {
        case .membership(let id): scopes = [.membership(id)]
        case .serviceAccount(let id): scopes = [.serviceAccount(id)]
        }
        if let principal {
            scopes.append(.organization(principal.organization.id))
            if let user = principal.user { scopes.append(.user(user.id)) }
        }
        return scopes
    }
}

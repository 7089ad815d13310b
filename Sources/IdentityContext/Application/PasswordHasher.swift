import KaroKarKernel
import NIOPosix
import Synchronization

/// Runs password hashing (scrypt: deliberately slow, ~0.2 s and 128 MiB each at the recommended
/// cost) on threads of its own, so that it never blocks an event loop nor holds a thread of
/// Swift's cooperative pool. At most `threads` hashes run at once, and at most `capacity` run or
/// wait: past that a hash is refused at once (RESOURCE_EXHAUSTED / `PASSWORD_HASHING_BUSY`, with
/// the time the queue takes to drain as `retry_info`), so a flood of logins cannot queue work
/// without bound in front of everyone else's.
final class PasswordHasher: Sendable {
    let parameters: ScryptParameters
    let threads: Int
    let capacity: Int
    private let pool: NIOThreadPool
    /// A hash of a password nobody has: verified against for unknown e-mails, so that a login for
    /// an unknown account costs what one for a known account costs.
    private let decoy: PasswordHash
    /// Hashes running or waiting.
    private let admitted = Atomic<Int>(0)
    /// How long the last hash took, in nanoseconds: what the retry delay is estimated from.
    private let lastHashNanoseconds = Atomic<Int64>(200_000_000)

    init(parameters: ScryptParameters, threads: Int, capacity: Int) {
        self.parameters = parameters
        self.threads = max(1, threads)
        self.capacity = max(capacity, self.threads)
        pool = NIOThreadPool(numberOfThreads: self.threads)
        pool.start()
        decoy = PasswordHash(parameters: parameters, salt: OpaqueSecret.randomBytes(PasswordHash.saltLength), key: OpaqueSecret.randomBytes(PasswordHash.keyLength))
    }

    func hash(_ password: String) async throws -> PasswordHash {
        let parameters = self.parameters
        return try await run { try PasswordHash.make(password, parameters: parameters) }
    }

    /// Whether `password` matches `hash`; with no hash (an unknown e-mail), the same work against
    /// the decoy, and false.
    func verify(_ password: String, against hash: PasswordHash?) async throws -> Bool {
        let decoy = self.decoy
        return try await run {
            guard let hash else {
                _ = try decoy.matches(password)
                return false
            }
            return try hash.matches(password)
        }
    }

    /// Hashes running or waiting now.
    var inUse: Int { admitted.load(ordering: .relaxed) }

    private func run<Result: Sendable>(_ work: @escaping @Sendable () throws -> Result) async throws -> Result {
        guard admitted.wrappingAdd(1, ordering: .relaxed).newValue <= capacity else {
            admitted.wrappingSubtract(1, ordering: .relaxed)
            throw IdentityErrors.hashingBusy(retryAfter: drainTime)
        }
        defer { admitted.wrappingSubtract(1, ordering: .relaxed) }
        return try await pool.runIfActive { [self] in
            let started = ContinuousClock.now
            defer { lastHashNanoseconds.store(Int64(min((ContinuousClock.now - started) / .nanoseconds(1), 1e15)), ordering: .relaxed) }
            return try work()
        }
    }

    /// How long a full queue takes to drain at the last hash's pace.
    private var drainTime: Duration {
        .nanoseconds(lastHashNanoseconds.load(ordering: .relaxed)) * ((capacity + threads - 1) / threads)
    }

    func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}

extension Identity {
    /// Password hashes running or waiting, and how many may before new ones are refused: for the
    /// server's metrics (`karokar_password_hash_queue`).
    public nonisolated var passwordHashQueue: (admitted: Int, capacity: Int) {
        (hasher.inUse, hasher.capacity)
    }
}

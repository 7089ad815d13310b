import NIOPosix

/// Runs password hashing (scrypt: deliberately slow, ~0.2 s and 128 MiB each at the recommended
/// cost) on threads of its own, so that it never blocks an event loop nor holds a thread of
/// Swift's cooperative pool. At most `threads` hashes run at once; more wait their turn.
final class PasswordHasher: Sendable {
    let parameters: ScryptParameters
    private let pool: NIOThreadPool
    /// A hash of a password nobody has: verified against for unknown e-mails, so that a login for
    /// an unknown account costs what one for a known account costs.
    private let decoy: PasswordHash

    init(parameters: ScryptParameters, threads: Int) {
        self.parameters = parameters
        pool = NIOThreadPool(numberOfThreads: max(1, threads))
        pool.start()
        decoy = PasswordHash(parameters: parameters, salt: OpaqueSecret.randomBytes(PasswordHash.saltLength), key: OpaqueSecret.randomBytes(PasswordHash.keyLength))
    }

    func hash(_ password: String) async throws -> PasswordHash {
        let parameters = self.parameters
        return try await pool.runIfActive { try PasswordHash.make(password, parameters: parameters) }
    }

    /// Whether `password` matches `hash`; with no hash (an unknown e-mail), the same work against
    /// the decoy, and false.
    func verify(_ password: String, against hash: PasswordHash?) async throws -> Bool {
        let decoy = self.decoy
        return try await pool.runIfActive {
            guard let hash else {
                _ = try decoy.matches(password)
                return false
            }
            return try hash.matches(password)
        }
    }

    func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}

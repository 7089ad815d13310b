import Foundation
import KaroKarKernel
import Logging

/// Start-up work: the token signing key, and on the very first start the platform organization
/// with its first administrator. Safe when several instances start at once: the creation runs
/// under a transaction-scoped advisory lock and checks again inside it.
enum Bootstrap {
    /// Arbitrary, fixed: the lock every instance takes to bootstrap.
    static let lockKey: Int64 = 0x4B41_524F_4944_0001

    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    static func run(_ identity: Identity) async throws {
        try await installSigningKey(identity)
        try await createPlatform(identity)
    }

    static func installSigningKey(_ identity: Identity) async throws {
        let configuration = identity.configuration
        let material: [UInt8]
        if let configured = configuration.tokenSigningKey {
            material = configured
        } else {
            guard !configuration.productionMode else { throw Refused(description: "production mode needs a configured token-signing-key") }
            material = try await CredentialStore.developmentKey(
                configuration.tokenAlgorithm.rawValue, generated: TokenKey.generateMaterial(for: configuration.tokenAlgorithm),
                on: identity.environment.pool
            )
            identity.logger.warning("using the development token signing key kept in the database; configure token-signing-key for production")
        }
        let key = try TokenKey(algorithm: configuration.tokenAlgorithm, material: material)
        identity.authority.install(TokenCodec(key: key, issuer: configuration.tokenIssuer, audience: configuration.tokenAudience))
    }

    static func createPlatform(_ identity: Identity) async throws {
        guard try await OrganizationStore.platform(on: identity.environment.pool) == nil else { return }
        let settings = identity.configuration.bootstrap
        let (password, generated) = try adminPassword(identity.configuration)
        let profile = UserProfile(firstName: settings.adminFirstName, lastName: settings.adminLastName, email: settings.adminEmail.lowercased())
        let admin = NewUser(profile: profile, passwordHash: try await identity.hasher.hash(password))
        let organization = NewOrganization(name: settings.organizationName, kind: .platform, status: .active, metadata: [:])
        let created = try await identity.bus.transaction(.system(organizationID: organization.id.lowercasedString)) { work in
            try await OrganizationStore.lockBootstrap(lockKey, on: work)
            guard try await OrganizationStore.platform(on: work) == nil else { return false }
            _ = try await identity.registered(organization, admin: admin, on: work)
            return true
        }
        guard created else { return }
        identity.logger.notice("bootstrapped the platform organization and its administrator", metadata: [
            "organization.id": "\(organization.id.lowercasedString)", "user.id": "\(admin.id.lowercasedString)",
        ])
        if generated { try writeGeneratedPassword(password, to: settings.generatedPasswordFile, logger: identity.logger) }
    }

    /// The configured password (checked against the policy), or in development a random one.
    static func adminPassword(_ configuration: IdentityConfiguration) throws -> (String, generated: Bool) {
        if let password = configuration.bootstrap.adminPassword {
            if let weakness = PasswordPolicy.weakness(of: password, email: configuration.bootstrap.adminEmail) {
                throw Refused(description: "the bootstrap administrator password \(weakness)")
            }
            return (password, false)
        }
        guard !configuration.productionMode else {
            throw Refused(description: "production mode needs bootstrap-admin-password (or bootstrap-admin-password-file)")
        }
        return (OpaqueSecret.generate(), true)
    }

    private static func writeGeneratedPassword(_ password: String, to path: String, logger: Logger) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: Data((password + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw Refused(description: "cannot write the generated bootstrap password to \(path)")
        }
        logger.warning("generated a password for the bootstrap administrator; read it from the file", metadata: ["file": "\(path)"])
    }
}

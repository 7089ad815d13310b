import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
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

    static func run(_ service: IdentityService) async throws {
        try await installSigningKey(service)
        try await createPlatform(service)
    }

    static func installSigningKey(_ service: IdentityService) async throws {
        let configuration = service.configuration
        let material: [UInt8]
        if let configured = configuration.tokenSigningKey {
            material = configured
        } else {
            guard !configuration.productionMode else { throw Refused(description: "production mode needs a configured token-signing-key") }
            material = try await CredentialStore.developmentKey(
                configuration.tokenAlgorithm, generated: TokenKey.generateMaterial(for: configuration.tokenAlgorithm), on: service.pool
            )
            service.logger.warning("using the development token signing key kept in the database; configure token-signing-key for production")
        }
        let key = try TokenKey(algorithm: configuration.tokenAlgorithm, material: material)
        service.authority.install(TokenCodec(key: key, issuer: configuration.tokenIssuer, audience: configuration.tokenAudience))
    }

    static func createPlatform(_ service: IdentityService) async throws {
        guard try await OrganizationStore.platform(on: service.pool) == nil else { return }
        let settings = service.configuration.bootstrap
        let (password, generated) = try adminPassword(service.configuration)
        let admin = NewUser(
            firstName: settings.adminFirstName, lastName: settings.adminLastName, email: settings.adminEmail.lowercased(), phone: nil,
            passwordHash: try await service.hasher.hash(password)
        )
        let organization = NewOrganization(name: settings.organizationName, kind: .platform, status: .active, metadata: [:])
        let created = try await service.bus.transaction(.system(organizationID: organization.id.lowercased)) { work in
            try await work.query("SELECT pg_advisory_xact_lock(\(lockKey))")
            guard try await OrganizationStore.platform(on: work) == nil else { return false }
            _ = try await service.register(organization, admin: admin, on: work)
            return true
        }
        guard created else { return }
        service.logger.notice("bootstrapped the platform organization and its administrator", metadata: [
            "organization.id": "\(organization.id.lowercased)", "user.id": "\(admin.id.lowercased)",
        ])
        if generated { try writeGeneratedPassword(password, to: settings.generatedPasswordFile, logger: service.logger) }
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

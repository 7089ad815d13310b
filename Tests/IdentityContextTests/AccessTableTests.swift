import Foundation
import KaroKarKernel
import KaroKarPostgres
import KaroKarRPC
import KaroKarServer
import KaroKarTestSupport
import Testing

/// The access rules (issue 4, issue 21): each method's, declared in its `.proto`, is what its
/// comment documents and what the generated method table carries, and decides for every role
/// exactly what DOMAIN.md's table grants, including for the contexts not served yet.
@Suite("Identity: access rules as declared")
struct AccessTableTests {
    @Test func everyProtoMethodDeclaresTheRuleItsCommentDocuments() throws {
        let methods = try DeclaredAccess.fromProtos()
        #expect(methods.count > 100)
        for method in methods.values {
            #expect(method.declared != nil, "\(method.path) declares no rule")
            #expect(DeclaredAccess.documentedRule(method.documented, path: method.path) == method.declared, "\(method.path): \(method.documented)")
        }
    }

    @Test func theGeneratedMethodTablesCarryTheDeclaredRules() throws {
        let declared = try DeclaredAccess.fromProtos().compactMapValues(\.declared)
        let generated = try DeclaredAccess.fromGenerated()
        #expect(Set(generated.keys) == Set(declared.keys), "the generated tables and the protos list the same methods")
        for (path, rule) in declared {
            #expect(generated[path] == rule, "\(path)")
        }
    }

    @Test func theSeededRolesAreDomainsTable() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        _ = try await MigrationRunner.migrate(Database.migrations, pool: pool)
        let seeded = try await Self.seededRoles(pool)
        #expect(Set(seeded.keys) == Set(DomainRoleTable.roles.keys))
        for (name, role) in DomainRoleTable.roles {
            #expect(seeded[name]?.type == role.type, "\(name)")
            #expect(seeded[name]?.permissions == role.permissions, "\(name)")
        }
        #expect(Set(DomainRoleTable.roles.values.flatMap(\.permissions)) == Set(Permission.allCases.map(\.rawValue)), "the catalogue")
        await pool.close()
    }

    static func seededRoles(_ pool: PostgresPool) async throws -> [String: (type: String, permissions: Set<String>)] {
        var roles: [String: (type: String, permissions: Set<String>)] = [:]
        for row in try await pool.query("SELECT name, organization_type, permissions, is_system_role FROM identity.roles") {
            #expect(try row.decode(Bool.self, "is_system_role"))
            roles[try row.decode(String.self, "name")] = (try row.decode(String.self, "organization_type"), Set(try row.decode([String].self, "permissions")))
        }
        return roles
    }

    /// The roles a declared rule admits, from DOMAIN.md's table (nil caller: no credentials).
    static func admits(_ rule: MethodAccess, _ granted: Set<String>?) -> Bool {
        switch rule {
        case .public: true
        case .authenticated: granted != nil
        case .permissions(let names): names.contains { granted?.contains($0) == true }
        }
    }

    /// Every method of every context (served or not yet) for every role, through the rule the
    /// interceptor resolves, with the permissions read back from the database.
    @Test func everyRoleIsAdmittedToExactlyWhatDomainGrants() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        _ = try await MigrationRunner.migrate(Database.migrations, pool: pool)
        let seeded = try await Self.seededRoles(pool)
        let rules = try DeclaredAccess.fromProtos().compactMapValues(\.declared)
        var decisions = 0
        for (name, role) in seeded {
            let caller = Caller(
                kind: .user, principalID: UUID(), organizationID: UUID(), organizationKind: TenantKind(rawValue: role.type)!,
                membershipID: UUID(), permissions: Set(role.permissions.compactMap(Permission.init(rawValue:)))
            )
            let granted = DomainRoleTable.roles[name]!.permissions
            for (path, rule) in rules {
                let requirement = try #require(AccessRequirement(rule), "\(path) declares a rule the server cannot resolve")
                #expect(requirement.admits(caller) == Self.admits(rule, granted), "\(name) \(path)")
                #expect(requirement.admits(nil) == Self.admits(rule, nil), "no credentials: \(path)")
                decisions += 1
            }
        }
        #expect(decisions == 6 * rules.count)
        await pool.close()
    }

    @Test func employeesReadOnlyTheirOwnAssignmentsAndPlatformAdminsOnlyTerminateBookings() {
        let employee = DomainRoleTable.roles["EMPLOYEE"]!.permissions
        #expect(employee.contains("assignment.read_own") && !employee.contains("assignment.read"))
        let platform = DomainRoleTable.roles["PLATFORM_ADMIN"]!.permissions
        #expect(platform.contains("booking.terminate"))
        #expect(platform.isDisjoint(with: ["booking.assign", "booking.activate", "booking.complete", "booking.create"]))
    }
}

import Foundation
@testable import IdentityContext
import KaroKarKernel
import KaroKarPostgres
import KaroKarServer
import KaroKarTestSupport
import Testing

/// The one access table (issue 4): complete, as the protos document it, and deciding for every
/// role exactly what DOMAIN.md's table grants, including for the contexts not served yet.
@Suite("Identity: access table")
struct AccessTableTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Every rpc of every proto service with the text after "Permission:" in its comment.
    static func documentedMethods() throws -> [String: String] {
        let protos = root.appendingPathComponent("Protos/karokar")
        let files = (FileManager.default.enumerator(at: protos, includingPropertiesForKeys: nil)?.allObjects as? [URL] ?? [])
            .filter { $0.pathExtension == "proto" }
        var methods: [String: String] = [:]
        for file in files {
            var package = ""
            var service = ""
            var comment: [String] = []
            for raw in try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false) {
                let line = raw.trimmingCharacters(in: .whitespaces)
                if line.hasPrefix("package ") { package = String(line.dropFirst(8).dropLast()) }
                if line.hasPrefix("service ") { service = String(line.split(separator: " ")[1]) }
                if line.hasPrefix("//") {
                    comment.append(String(line.dropFirst(2)).trimmingCharacters(in: .whitespaces))
                    continue
                }
                if line.hasPrefix("rpc ") {
                    let name = line.dropFirst(4).prefix { $0 != "(" }
                    let text = comment.joined(separator: " ")
                    methods["/\(package).\(service)/\(name)"] = text.range(of: "Permission:").map { String(text[$0.upperBound...]) } ?? ""
                }
                comment = []
            }
        }
        return methods
    }

    /// What a proto comment's "Permission:" says, as a requirement.
    static func requirement(documented text: String, path: String) -> MethodAccess? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty, path.hasPrefix("/karokar.rpc.v1.") { return .public }  // built-in services document no permission
        if trimmed.hasPrefix("none") { return .public }
        if trimmed.hasPrefix("any authenticated") { return .authenticated }
        let name = trimmed.prefix { $0.isLetter || $0 == "." || $0 == "_" }.trimmingCharacters(in: CharacterSet(charactersIn: "."))
        guard let permission = Permission(rawValue: name) else { return nil }
        if trimmed.lowercased().contains("employee"), let own = Permission(rawValue: name + "_own") { return .anyOf([permission, own]) }
        return .permission(permission)
    }

    @Test func everyProtoMethodIsInTheTableAsItsCommentSays() throws {
        let documented = try Self.documentedMethods()
        #expect(documented.count > 100)
        #expect(Set(documented.keys) == Set(AccessPolicy.table.keys), "the table and the protos list the same methods")
        for (path, text) in documented {
            #expect(Self.requirement(documented: text, path: path) == AccessPolicy.table[path], "\(path): \(text)")
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

    /// Every path of every context (served or not yet) for every role, through the interceptor's
    /// decision with the permissions read back from the database.
    @Test func everyRoleIsAdmittedToExactlyWhatDomainGrants() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        _ = try await MigrationRunner.migrate(Database.migrations, pool: pool)
        let seeded = try await Self.seededRoles(pool)
        var decisions = 0
        for (name, role) in seeded {
            let caller = Caller(
                kind: .user, principalID: UUID(), organizationID: UUID(), organizationKind: TenantKind(rawValue: role.type)!,
                membershipID: UUID(), permissions: Set(role.permissions.compactMap(Permission.init(rawValue:)))
            )
            let granted = DomainRoleTable.roles[name]!.permissions
            for (path, requirement) in AccessPolicy.table {
                let expected: Bool = switch requirement {
                case .public, .authenticated: true
                case .permission(let permission): granted.contains(permission.rawValue)
                case .anyOf(let permissions): permissions.contains { granted.contains($0.rawValue) }
                }
                #expect(requirement.admits(caller) == expected, "\(name) \(path)")
                #expect(requirement.admits(nil) == (requirement == .public), "no credentials: \(path)")
                decisions += 1
            }
        }
        #expect(decisions == 6 * AccessPolicy.table.count)
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

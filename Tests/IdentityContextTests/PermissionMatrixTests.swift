import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// The permission table over TCP: one signed-in member per system role, and every method this
/// server serves called by each of them (and by nobody) through the real interceptor.
@Suite("Identity: permission table over TCP", .serialized)
struct PermissionMatrixTests {
    /// One session per system role, in active organizations.
    static func cast(_ market: TestMarketplace) async throws -> [String: TestSession] {
        let vendor = try await market.onboard(.vendor)
        let corporate = try await market.onboard(.corporate)
        return [
            "PLATFORM_ADMIN": try await market.platformAdmin(),
            "VENDOR_ADMIN": vendor.admin,
            "VENDOR_STAFF": try await market.member(of: vendor, role: "VENDOR_STAFF"),
            "CORPORATE_ADMIN": corporate.admin,
            "FLEET_MANAGER": try await market.member(of: corporate, role: "FLEET_MANAGER"),
            "EMPLOYEE": try await market.member(of: corporate, role: "EMPLOYEE"),
        ]
    }

    static func servedPaths(_ market: TestMarketplace) async throws -> [String] {
        let listing = try await RPCV1.ReflectionService.Client(market.client).listServices(RPCV1.ListServicesRequest())
        return listing.services.flatMap { $0.methods.map(\.path) }.sorted()
    }

    /// The rule each route of the running server carries (its method table's, from the `.proto`).
    static func servedRules(_ market: TestMarketplace) -> [String: MethodAccess] {
        var rules: [String: MethodAccess] = [:]
        for service in market.server.application.server.configuration.services {
            for route in service.routes { rules["/\(service.descriptor.name)/\(route.name)"] = route.access }
        }
        return rules
    }

    /// The status a call with an empty (all-default) request gets; OK when it succeeds.
    static func status(_ market: TestMarketplace, _ path: String, _ options: CallOptions) async -> RPCCode {
        do {
            _ = try await market.client.call(path: path, payload: [], options: options)
            return .ok
        } catch let error as RPCError {
            return error.code
        } catch {
            return .unknown
        }
    }

    /// Methods the table admits to any holder of their permission but whose handler narrows
    /// further (platform-wide verbs).
    static let platformOnlyHandlers: Set<String> = [
        "/karokar.identity.v1.IdentityService/DisableUser",
        // The audit chain and the completeness check span every tenant (checked before the
        // request is validated: a tenant learns nothing from the validation).
        "/karokar.audit.v1.AuditService/VerifyChain",
        "/karokar.audit.v1.AuditService/CheckCompleteness",
    ]

    @Test func everyServedMethodAdmitsExactlyTheRolesThatHoldItsPermission() async throws {
        try await TestMarketplace.run { market in
            let cast = try await Self.cast(market)
            let paths = try await Self.servedPaths(market)
            let rules = Self.servedRules(market)
            #expect(paths.count >= 40)
            for path in paths {
                let rule = try #require(rules[path], "\(path) is listed but has no route")
                let requirement = try #require(AccessRequirement(rule), "\(path) declares a rule the server cannot resolve")
                for (role, session) in cast {
                    var admitted = AccessTableTests.admits(rule, DomainRoleTable.roles[role]!.permissions)
                    if Self.platformOnlyHandlers.contains(path) && role != "PLATFORM_ADMIN" { admitted = false }
                    let code = await Self.status(market, path, session.callOptions)
                    if admitted {
                        #expect(code != .permissionDenied && code != .unauthenticated, "\(role) \(path): \(code)")
                    } else {
                        #expect(code == .permissionDenied, "\(role) \(path): \(code)")
                    }
                }
                let anonymous = await Self.status(market, path, CallOptions())
                if requirement == .public {
                    #expect(anonymous != .unauthenticated && anonymous != .permissionDenied, "anonymous \(path): \(anonymous)")
                } else {
                    #expect(anonymous == .unauthenticated, "anonymous \(path): \(anonymous)")
                }
            }
        }
    }

    @Test func whoAmIShowsEachRolesPermissionsFromTheSeededTable() async throws {
        try await TestMarketplace.run { market in
            for (role, session) in try await Self.cast(market) {
                let me = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: session.callOptions)
                #expect(Set(me.permissions) == DomainRoleTable.roles[role]!.permissions, "\(role)")
                #expect(me.membership?.roleName == role)
                #expect(me.organization?.id == session.organizationID)
            }
        }
    }

    /// Per permission group of the served contexts: one call that is allowed and does its work,
    /// one that is denied and changes nothing.
    @Test func allowedCallsWorkAndDeniedOnesChangeNothing() async throws {
        try await TestMarketplace.run { market in
            let cast = try await Self.cast(market)
            let staffRole = try await market.roleID("VENDOR_STAFF", type: .vendor)
            let usersBefore = try await Self.userCount(market)
            func createStaff(_ as: String) async throws -> IdentityV1.CreateUserResponse {
                try await market.identity.createUser(IdentityV1.CreateUserRequest(
                    firstName: "New", lastName: "Staff", email: "staff-\(UUID().uuidString.prefix(6).lowercased())@example.com",
                    password: TestMarketplace.password, roleId: staffRole
                ), options: cast[`as`]!.callOptions)
            }
            // member.manage
            let created = try await createStaff("VENDOR_ADMIN")
            #expect(created.membership?.roleName == "VENDOR_STAFF")
            await expectDenied { _ = try await createStaff("VENDOR_STAFF") }
            #expect(try await Self.userCount(market) == usersBefore + 1)
            // member.read
            let members = try await market.identity.listMembers(IdentityV1.ListMembersRequest(), options: cast["FLEET_MANAGER"]!.callOptions)
            #expect(members.members.contains { $0.user?.id == cast["FLEET_MANAGER"]!.userID })
            await expectDenied { _ = try await market.identity.listMembers(IdentityV1.ListMembersRequest(), options: cast["EMPLOYEE"]!.callOptions) }
            // organization.read (every role holds it); without a token nothing is read
            let own = try await market.identity.getOrganization(
                IdentityV1.GetOrganizationRequest(organizationId: cast["EMPLOYEE"]!.organizationID), options: cast["EMPLOYEE"]!.callOptions
            )
            #expect(own.organization?.type == .corporate)
            // organization.approve
            let pending = try await market.register(.vendor)
            let queue = try await market.administration.listPendingApprovals(
                AdministrationV1.ListPendingApprovalsRequest(), options: cast["PLATFORM_ADMIN"]!.callOptions
            )
            #expect(queue.pendingApprovals.map { $0.organization?.organizationId } == [pending.organization?.id])
            await expectDenied {
                _ = try await market.administration.approveOrganization(
                    AdministrationV1.ApproveOrganizationRequest(organizationId: pending.organization!.id), options: cast["CORPORATE_ADMIN"]!.callOptions
                )
            }
            let status = try await market.pool.query("SELECT status FROM identity.organizations WHERE id = \(pending.organization!.id)::uuid")
            #expect(try status.single().decode(String.self, "status") == "PENDING")
        }
    }

    /// Issue 4's performance rule as a property: token checks and permission lookups do not touch
    /// the database once a principal is cached (the pool hands out no connection).
    @Test func authorizedCallsDoNotTouchTheDatabaseOnceThePrincipalIsCached() async throws {
        // Without the event relay, whose deliveries lease connections of the same pool.
        try await TestMarketplace.run(background: false) { market in
            // Platform principals: no organization decision (whose hold-off keeps principals out of
            // the cache for a moment) has just happened to their organization.
            let platform = try await market.platformAdmin()
            let account = try await market.identity.createServiceAccount(
                IdentityV1.CreateServiceAccountRequest(name: "reader", permissions: ["organization.read"]), options: platform.callOptions
            )
            let service = try await market.identity.exchangeServiceAccountToken(IdentityV1.ExchangeServiceAccountTokenRequest(
                serviceAccountId: account.serviceAccount!.id, secret: account.secret
            ))
            let sessions = [platform.callOptions, TestSession(accessToken: service.accessToken, userID: "", organizationID: "").callOptions]
            for options in sessions { _ = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: options) }
            let before = market.pool.metrics.leases
            for _ in 0..<100 {
                for options in sessions {
                    _ = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: options)
                    _ = try await RPCV1.DiagnosticsService.Client(market.client).echo(RPCV1.EchoRequest(payload: [1, 2, 3]), options: options)
                }
            }
            #expect(market.pool.metrics.leases == before)
        }
    }

    static func userCount(_ market: TestMarketplace) async throws -> Int {
        try await market.pool.query("SELECT count(*) AS n FROM identity.users").single().decode(Int.self, "n")
    }
}

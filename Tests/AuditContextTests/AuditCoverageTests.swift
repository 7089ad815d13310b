import Foundation
import KaroKarMessages
import KaroKarPostgres
import KaroKarProto
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Every business RPC of Identity, Fleet (and availability), Administration, Booking (and
/// allocations), Assignment and Verification, walked through the real server: each mutation
/// leaves exactly one audit record made by its caller (actor, actor type, tenant), each read
/// none. The method list is the generated one, so a new method fails this test until the walk
/// calls it and it is classified: a read, a mutation with one event (the default), or an
/// exception below with its reason.
@Suite("Audit: every business RPC walked, one record per mutation")
struct AuditCoverageTests {
    /// The services walked: every business service the server serves.
    static let services: [ProtoServiceDescriptor] = [
        IdentityV1.IdentityService.descriptor, FleetV1.FleetService.descriptor, FleetV1.AvailabilityService.descriptor,
        AdministrationV1.AdministrationService.descriptor, BookingV1.BookingService.descriptor, BookingV1.AllocationService.descriptor,
        AssignmentV1.AssignmentService.descriptor, VerificationV1.VerificationService.descriptor,
    ]

    /// Methods that change nothing: no event, no audit record.
    static let reads: Set<String> = [
        "IdentityService/WhoAmI", "IdentityService/ListMyMemberships", "IdentityService/GetUser", "IdentityService/ListUsers",
        "IdentityService/ListMembers", "IdentityService/ListRoles", "IdentityService/GetOrganization", "IdentityService/ListOrganizations",
        "IdentityService/GetServiceAccount", "IdentityService/ListServiceAccounts",
        "FleetService/GetVehicle", "FleetService/ListFleet", "FleetService/GetMaintenance", "FleetService/ListMaintenance",
        "FleetService/ListSuspensions", "FleetService/ListBlocks", "FleetService/ListVehicleDocuments", "FleetService/SearchAvailableVehicles",
        "FleetService/SearchFlexibleStart", "AvailabilityService/CheckAvailability", "AvailabilityService/GetVehicleTimeline",
        "AdministrationService/ListPendingApprovals", "AdministrationService/GetApprovalHistory", "AdministrationService/GetDashboardCounts",
        "AdministrationService/ListModerationActions",
        "BookingService/GetBooking", "BookingService/ListCorporateBookings", "BookingService/ListVendorBookingRequests",
        "AllocationService/ListAllocations", "AllocationService/GetAllocationUsage",
        "AssignmentService/GetAssignment", "AssignmentService/ListAssignments", "AssignmentService/ListMyAssignments",
        "VerificationService/GetVerification", "VerificationService/ListVerifications", "VerificationService/ListVerificationProviders",
    ]

    /// Reviewed exceptions to "one mutation, one record": the caller's records this walk's call
    /// leaves (event types, sorted), and why. Several records are one business action changing
    /// several aggregates in one transaction (its in-transaction reactions act as the caller);
    /// none are sessions and tokens, or sweeps with nothing due.
    static let hold = "its hold on the vehicle's calendar (availability.*), in the same transaction"
    static let reactions = "the reactions an invariant needs, in its transaction (DOMAIN.md 3: no torn states)"
    static let moderated = "the moderation request and the owning context's reaction to it, in one transaction"

    static let exceptions: [String: (events: [String], reason: String)] = [
        "IdentityService/Login": ([], "a session, not business state (credential failures and locks are the throttle's)"),
        "IdentityService/RefreshToken": ([], "a session's rotation, not business state"),
        "IdentityService/Logout": ([], "a session's end, not business state"),
        "IdentityService/ExchangeServiceAccountToken": ([], "a short-lived token, not business state"),
        "IdentityService/RegisterOrganization": (
            ["member.added", "organization.registered", "user.created"], "the organization, its first user and their membership"
        ),
        "IdentityService/CreateUser": (["member.added", "user.created"], "the user and their membership"),
        "FleetService/ScheduleMaintenance": (["availability.created", "maintenance.scheduled"], hold),
        "FleetService/CompleteMaintenance": (["availability.released", "maintenance.completed"], hold),
        "FleetService/CancelMaintenance": (["availability.released", "maintenance.cancelled"], hold),
        "FleetService/PlaceBlock": (["availability.created", "vehicle.block_placed"], hold),
        "FleetService/RemoveBlock": (["availability.released", "vehicle.block_removed"], hold),
        "FleetService/SuspendVehicle": (["availability.created", "vehicle.suspended"], hold),
        "FleetService/LiftSuspension": (["availability.released", "vehicle.suspension_lifted"], hold),
        "AssignmentService/CreateAssignment": (["assignment.created", "availability.created"], hold),
        "AssignmentService/CompleteAssignment": (["assignment.completed", "availability.released"], hold),
        "AssignmentService/CloseAssignment": (["assignment.closed", "availability.released"], hold),
        "BookingService/ApproveBooking": (["availability.created", "booking.approved"], reactions),
        "BookingService/AssignBooking": (["assignment.created", "availability.status_changed", "booking.assigned"], reactions),
        "BookingService/ActivateBooking": (["assignment.activated", "booking.activated"], reactions),
        "BookingService/CompleteBooking": (["assignment.completed", "availability.released", "booking.completed"], reactions),
        "BookingService/TerminateBooking": (["assignment.closed", "availability.released", "booking.terminated"], reactions),
        "AdministrationService/TerminateBooking": (
            ["assignment.closed", "availability.released", "booking.terminated", "moderation.booking_termination_requested"], moderated
        ),
        "AdministrationService/SuspendVehicle": (
            ["availability.created", "moderation.vehicle_suspension_requested", "vehicle.suspended"], moderated
        ),
        "AdministrationService/BlockVehicle": (["availability.created", "moderation.vehicle_block_requested", "vehicle.block_placed"], moderated),
        "AdministrationService/DisableUser": (["moderation.user_disable_requested", "user.disabled"], moderated),
        "FleetService/RunDocumentExpirySweep": ([], "a sweep: one suspension per expired document, none due here"),
        "BookingService/ExpireBookingRequests": ([], "a sweep: one expiry per stale request, none due here"),
        "VerificationService/RunVerificationExpirySweep": ([], "a sweep: one expiry per lapsed verification, none due here"),
    ]

    /// One traced call: its method, its request id (the events' correlation id) and who made it.
    struct Call: Sendable {
        let method: String
        let requestID: String
        var actorID: String?
        var organizationID: String?
    }

    /// The calls of the walk, each with a request id of its own.
    final class Walk: @unchecked Sendable {
        private let lock = NSLock()
        private var calls: [Call] = []

        /// Call options for one call of `method` by `session` (nil: anonymous).
        func on<Request, Response>(_ method: RPCMethod<Request, Response>, _ session: TestSession?) -> CallOptions {
            let requestID = "walk-\(method.name)-\(UUID().uuidString.prefix(8).lowercased())"
            var options = session?.callOptions ?? CallOptions(timeout: .seconds(30))
            options.metadata["request-id"] = requestID
            let short = "\(method.service.split(separator: ".").last!)/\(method.name)"
            lock.lock()
            calls.append(Call(method: short, requestID: requestID, actorID: session?.userID, organizationID: session?.organizationID))
            lock.unlock()
            return options
        }

        /// The actor and tenant of the last call of `method` (a registration acts as its new administrator).
        func attribute<Request, Response>(_ method: RPCMethod<Request, Response>, actor: String, organization: String) {
            lock.lock()
            defer { lock.unlock() }
            guard let index = calls.lastIndex(where: { $0.method.hasSuffix("/\(method.name)") }) else { return }
            calls[index].actorID = actor
            calls[index].organizationID = organization
        }

        var all: [Call] {
            lock.lock()
            defer { lock.unlock() }
            return calls
        }
    }

    static func days(_ start: Double, _ end: Double) -> CommonV1.Period {
        let origin: Int64 = 1_814_400_000  // 2027-07-01T00:00:00Z
        return CommonV1.Period(start: .init(seconds: origin + Int64(start * 86_400)), end: .init(seconds: origin + Int64(end * 86_400)))
    }

    static func open(_ start: Double, _ end: Double) -> CommonV1.OpenPeriod {
        let period = days(start, end)
        return CommonV1.OpenPeriod(start: period.start, end: period.end)
    }

    @Test func everyMutationLeavesOneRecordByItsCallerAndReadsNone() async throws {
        try await TestMarketplace.run { market in
            let walk = Walk()
            try await Self.walkEverything(market, walk)

            let audit = AuditV1.AuditService.Client(market.client)
            let platform = try await market.platformAdmin()
            #expect(try await AuditServiceTests.settled(audit, platform), "every event of the outbox has its record")

            // Every method of every business service was called.
            let walked = Set(walk.all.map(\.method))
            for service in Self.services {
                let short = service.name.split(separator: ".").last!
                for method in service.methods where !walked.contains("\(short)/\(method.name)") {
                    Issue.record("\(short)/\(method.name) is not walked: call it in walkEverything and classify it")
                }
            }
            for (method, _) in Self.exceptions where !walked.contains(method) { Issue.record("exception for an unknown method \(method)") }
            for method in Self.reads where !walked.contains(method) { Issue.record("read of an unknown method \(method)") }

            for call in walk.all {
                let rows = try await market.pool.query("""
                    SELECT event_type, actor_id, actor_type, organization_id::text AS organization_id
                    FROM audit.records WHERE correlation_id = \(call.requestID) ORDER BY sequence
                    """)
                let records = try rows.map { row in
                    (type: try row.decode(String.self, "event_type"), actor: try row.decode(String?.self, "actor_id"),
                     actorType: try row.decode(String.self, "actor_type"), organization: try row.decode(String?.self, "organization_id"))
                }
                let outbox = try await market.pool.query("""
                    SELECT count(*)::int AS n FROM karokar_events.outbox AS o JOIN audit.records AS r USING (event_id)
                    WHERE r.correlation_id = \(call.requestID)
                    """).single().decode(Int.self, "n")
                #expect(outbox == records.count, "\(call.method): each record is an outbox event's")
                if Self.reads.contains(call.method) {
                    #expect(records.isEmpty, "\(call.method) is a read, yet left \(records.map(\.type))")
                    continue
                }
                // The caller's own records (reactions after commit act as the system, in the same correlation).
                let own = records.filter { $0.actorType != "SYSTEM" }
                let expected = Self.exceptions[call.method]?.events
                if let expected {
                    #expect(own.map(\.type).sorted() == expected, "\(call.method): \(own.map(\.type)) (exception: \(expected))")
                } else {
                    #expect(own.count == 1, "\(call.method) must leave exactly one record of its caller: \(records.map { "\($0.type)/\($0.actorType)" })")
                }
                for record in own {
                    #expect(record.actor == call.actorID && record.actorType == "USER", "\(call.method) \(record.type): actor \(record.actor ?? "-")/\(record.actorType)")
                    #expect(record.organization == call.organizationID, "\(call.method) \(record.type): tenant \(record.organization ?? "-")")
                }
            }
        }
    }

    /// Calls every method of ``services`` at least once, in an order where each call can succeed.
    static func walkEverything(_ market: TestMarketplace, _ walk: Walk) async throws {
        let identity = market.identity
        let administration = market.administration
        let fleet = FleetV1.FleetService.Client(market.client)
        let availability = FleetV1.AvailabilityService.Client(market.client)
        let bookings = BookingV1.BookingService.Client(market.client)
        let allocations = BookingV1.AllocationService.Client(market.client)
        let assignments = AssignmentV1.AssignmentService.Client(market.client)
        let verifications = VerificationV1.VerificationService.Client(market.client)
        typealias I = IdentityV1.IdentityService.Method
        typealias F = FleetV1.FleetService.Method
        typealias A = FleetV1.AvailabilityService.Method
        typealias M = AdministrationV1.AdministrationService.Method
        typealias B = BookingV1.BookingService.Method
        typealias L = BookingV1.AllocationService.Method
        typealias S = AssignmentV1.AssignmentService.Method
        typealias V = VerificationV1.VerificationService.Method

        let platform = try await market.platformAdmin()
        let vendor = try await market.onboard(.vendor)
        let corporate = try await market.onboard(.corporate)
        let manager = try await market.member(of: corporate, role: "FLEET_MANAGER")
        let employee = try await market.member(of: corporate, role: "EMPLOYEE")
        let colleague = try await market.member(of: corporate, role: "EMPLOYEE")
        let tag = { UUID().uuidString.prefix(8).lowercased() }

        // MARK: Identity
        let registration = try await identity.registerOrganization(IdentityV1.RegisterOrganizationRequest(
            organizationName: "Walk \(tag())", organizationType: .vendor, metadata: ["region": "IN-KA"],
            adminFirstName: "Asha", adminLastName: "Rao", adminEmail: "walk-\(tag())@example.com", adminPassword: TestMarketplace.password
        ), options: walk.on(I.registerOrganization, nil))
        walk.attribute(I.registerOrganization, actor: registration.adminUser!.id, organization: registration.organization!.id)
        let signedIn = try await identity.login(
            IdentityV1.LoginRequest(email: vendor.adminEmail, password: TestMarketplace.password), options: walk.on(I.login, nil)
        )
        let refreshed = try await identity.refreshToken(
            IdentityV1.RefreshTokenRequest(refreshToken: signedIn.grant!.refreshToken), options: walk.on(I.refreshToken, nil)
        )
        _ = try await identity.logout(IdentityV1.LogoutRequest(refreshToken: refreshed.grant!.refreshToken), options: walk.on(I.logout, vendor.admin))
        _ = try await identity.whoAmI(IdentityV1.WhoAmIRequest(), options: walk.on(I.whoAmI, vendor.admin))
        _ = try await identity.listMyMemberships(IdentityV1.ListMyMembershipsRequest(), options: walk.on(I.listMyMemberships, vendor.admin))
        let staffRole = try await market.roleID("VENDOR_STAFF", type: .vendor)
        let adminRole = try await market.roleID("VENDOR_ADMIN", type: .vendor)
        var newUser = IdentityV1.CreateUserRequest()
        newUser.firstName = "Meera"
        newUser.lastName = "Iyer"
        newUser.email = "walk-\(tag())@example.com"
        newUser.password = TestMarketplace.password
        newUser.roleId = staffRole
        let created = try await identity.createUser(newUser, options: walk.on(I.createUser, vendor.admin))
        _ = try await identity.getUser(IdentityV1.GetUserRequest(userId: created.user!.id), options: walk.on(I.getUser, vendor.admin))
        _ = try await identity.listUsers(IdentityV1.ListUsersRequest(), options: walk.on(I.listUsers, vendor.admin))
        _ = try await identity.listMembers(IdentityV1.ListMembersRequest(), options: walk.on(I.listMembers, vendor.admin))
        var changeRole = IdentityV1.ChangeMemberRoleRequest()
        changeRole.membershipId = created.membership!.id
        changeRole.roleId = adminRole
        _ = try await identity.changeMemberRole(changeRole, options: walk.on(I.changeMemberRole, vendor.admin))
        var remove = IdentityV1.RemoveMemberRequest()
        remove.membershipId = created.membership!.id
        _ = try await identity.removeMember(remove, options: walk.on(I.removeMember, vendor.admin))
        var add = IdentityV1.AddMemberRequest()
        add.user = .email(corporate.adminEmail)
        add.roleId = staffRole
        _ = try await identity.addMember(add, options: walk.on(I.addMember, vendor.admin))
        let disabled = try await market.member(of: vendor, role: "VENDOR_STAFF")
        var disable = IdentityV1.DisableUserRequest()
        disable.userId = disabled.userID
        disable.reason = "left the company"
        _ = try await identity.disableUser(disable, options: walk.on(I.disableUser, platform))  // a platform-wide verb
        let changing = try await market.member(of: vendor, role: "VENDOR_STAFF")
        var password = IdentityV1.ChangePasswordRequest()
        password.currentPassword = TestMarketplace.password
        password.newPassword = "another horse battery staple"
        _ = try await identity.changePassword(password, options: walk.on(I.changePassword, changing))
        _ = try await identity.listRoles(IdentityV1.ListRolesRequest(), options: walk.on(I.listRoles, vendor.admin))
        _ = try await identity.getOrganization(IdentityV1.GetOrganizationRequest(organizationId: vendor.id), options: walk.on(I.getOrganization, vendor.admin))
        _ = try await identity.listOrganizations(IdentityV1.ListOrganizationsRequest(), options: walk.on(I.listOrganizations, platform))
        var account = IdentityV1.CreateServiceAccountRequest()
        account.name = "walker"
        account.permissions = ["vehicle.read"]
        let service = try await identity.createServiceAccount(account, options: walk.on(I.createServiceAccount, vendor.admin))
        let accountID = service.serviceAccount!.id
        _ = try await identity.getServiceAccount(IdentityV1.GetServiceAccountRequest(serviceAccountId: accountID), options: walk.on(I.getServiceAccount, vendor.admin))
        _ = try await identity.listServiceAccounts(IdentityV1.ListServiceAccountsRequest(), options: walk.on(I.listServiceAccounts, vendor.admin))
        var rotate = IdentityV1.RotateServiceAccountSecretRequest()
        rotate.serviceAccountId = accountID
        let rotated = try await identity.rotateServiceAccountSecret(rotate, options: walk.on(I.rotateServiceAccountSecret, vendor.admin))
        _ = try await identity.exchangeServiceAccountToken(
            IdentityV1.ExchangeServiceAccountTokenRequest(serviceAccountId: accountID, secret: rotated.secret), options: walk.on(I.exchangeServiceAccountToken, nil)
        )
        var revoke = IdentityV1.RevokeServiceAccountRequest()
        revoke.serviceAccountId = accountID
        _ = try await identity.revokeServiceAccount(revoke, options: walk.on(I.revokeServiceAccount, vendor.admin))

        // MARK: Administration (organizations)
        _ = try await administration.listPendingApprovals(AdministrationV1.ListPendingApprovalsRequest(), options: walk.on(M.listPendingApprovals, platform))
        var approve = AdministrationV1.ApproveOrganizationRequest()
        approve.organizationId = registration.organization!.id
        _ = try await administration.approveOrganization(approve, options: walk.on(M.approveOrganization, platform))
        var history = AdministrationV1.GetApprovalHistoryRequest()
        history.organizationId = registration.organization!.id
        _ = try await administration.getApprovalHistory(history, options: walk.on(M.getApprovalHistory, platform))
        let rejected = try await market.register(.corporate)
        var reject = AdministrationV1.RejectOrganizationRequest()
        reject.organizationId = rejected.organization!.id
        reject.notes = "incomplete documents"
        _ = try await administration.rejectOrganization(reject, options: walk.on(M.rejectOrganization, platform))
        let suspended = try await market.onboard(.vendor)
        var suspend = AdministrationV1.SuspendOrganizationRequest()
        suspend.organizationId = suspended.id
        suspend.notes = "unpaid fees"
        _ = try await administration.suspendOrganization(suspend, options: walk.on(M.suspendOrganization, platform))
        var reinstate = AdministrationV1.ReinstateOrganizationRequest()
        reinstate.organizationId = suspended.id
        _ = try await administration.reinstateOrganization(reinstate, options: walk.on(M.reinstateOrganization, platform))
        _ = try await administration.getDashboardCounts(AdministrationV1.GetDashboardCountsRequest(), options: walk.on(M.getDashboardCounts, platform))

        // MARK: Fleet, availability, verification
        func register(_ owner: TestOrganization, traced: Bool = false) async throws -> String {
            let request = FleetV1.RegisterVehicleRequest(
                ownershipType: owner.type == .vendor ? .vendorOwned : .corporateOwned, make: "Tata", model: "Nexon", year: 2024,
                licensePlate: "KA\(UUID().uuidString.prefix(8))"
            )
            return try await fleet.registerVehicle(request, options: traced ? walk.on(F.registerVehicle, owner.admin) : owner.admin.callOptions).vehicle!.id
        }
        func activate(_ vehicle: String, _ owner: TestOrganization) async throws {
            try await market.verifyVehicle(vehicle, owner: owner.admin)
            _ = try await fleet.activateVehicle(FleetV1.ActivateVehicleRequest(vehicleId: vehicle), options: owner.admin.callOptions)
        }
        let vehicle = try await register(vendor, traced: true)
        var details = FleetV1.UpdateVehicleDetailsRequest()
        details.vehicleId = vehicle
        details.model = CommonV1.StringValue(value: "Nexon EV")
        _ = try await fleet.updateVehicleDetails(details, options: walk.on(F.updateVehicleDetails, vendor.admin))
        var submitted: [String] = []
        for (index, type) in [VerificationV1.VerificationType.vehicleRegistration, .insurance, .fitnessCertificate].enumerated() {
            var submit = VerificationV1.SubmitVerificationRequest()
            submit.subjectType = .vehicle
            submit.subjectId = vehicle
            submit.type = type
            submit.method = .manual
            submit.documentRefs = ["s3://karokar-test/\(vehicle)/\(type)"]
            let options = index == 0 ? walk.on(V.submitVerification, vendor.admin) : vendor.admin.callOptions
            let verification = try await verifications.submitVerification(submit, options: options).verification!
            var approveIt = VerificationV1.ApproveVerificationRequest()
            approveIt.verificationId = verification.id
            _ = try await verifications.approveVerification(approveIt, options: index == 0 ? walk.on(V.approveVerification, platform) : platform.callOptions)
            submitted.append(verification.id)
        }
        _ = try await fleet.activateVehicle(FleetV1.ActivateVehicleRequest(vehicleId: vehicle), options: walk.on(F.activateVehicle, vendor.admin))
        _ = try await fleet.getVehicle(FleetV1.GetVehicleRequest(vehicleId: vehicle), options: walk.on(F.getVehicle, vendor.admin))
        _ = try await fleet.listFleet(FleetV1.ListFleetRequest(), options: walk.on(F.listFleet, vendor.admin))
        _ = try await verifications.getVerification(VerificationV1.GetVerificationRequest(verificationId: submitted[0]), options: walk.on(V.getVerification, vendor.admin))
        _ = try await verifications.listVerifications(VerificationV1.ListVerificationsRequest(), options: walk.on(V.listVerifications, vendor.admin))
        _ = try await verifications.listVerificationProviders(VerificationV1.ListVerificationProvidersRequest(), options: walk.on(V.listVerificationProviders, vendor.admin))
        func organizationVerification(_ type: VerificationV1.VerificationType) async throws -> String {
            var submit = VerificationV1.SubmitVerificationRequest()
            submit.subjectType = .organization
            submit.subjectId = vendor.id
            submit.type = type
            submit.method = .manual
            submit.documentRefs = ["s3://karokar-test/\(vendor.id)/\(type)"]
            return try await verifications.submitVerification(submit, options: vendor.admin.callOptions).verification!.id
        }
        var rejectVerification = VerificationV1.RejectVerificationRequest()
        rejectVerification.verificationId = try await organizationVerification(.businessRegistration)
        rejectVerification.reason = "illegible"
        _ = try await verifications.rejectVerification(rejectVerification, options: walk.on(V.rejectVerification, platform))
        var approveRepresentative = VerificationV1.ApproveVerificationRequest()
        approveRepresentative.verificationId = try await organizationVerification(.authorizedRepresentative)
        _ = try await verifications.approveVerification(approveRepresentative, options: platform.callOptions)
        var revokeVerification = VerificationV1.RevokeVerificationRequest()
        revokeVerification.verificationId = approveRepresentative.verificationId
        revokeVerification.reason = "representative left"
        _ = try await verifications.revokeVerification(revokeVerification, options: walk.on(V.revokeVerification, platform))
        _ = try await verifications.runVerificationExpirySweep(
            VerificationV1.RunVerificationExpirySweepRequest(), options: walk.on(V.runVerificationExpirySweep, platform)
        )

        let now = Int64(Date().timeIntervalSince1970)
        var document = FleetV1.AddVehicleDocumentRequest()
        document.vehicleId = vehicle
        document.type = .insurance
        document.number = "POL-\(tag())"
        document.issuedAt = CommonV1.Timestamp(seconds: now - 86_400)
        document.expiresAt = CommonV1.Timestamp(seconds: now + 365 * 86_400)
        document.fileRef = "s3://karokar-test/\(vehicle)/policy"
        _ = try await fleet.addVehicleDocument(document, options: walk.on(F.addVehicleDocument, vendor.admin))
        _ = try await fleet.listVehicleDocuments(FleetV1.ListVehicleDocumentsRequest(vehicleId: vehicle), options: walk.on(F.listVehicleDocuments, vendor.admin))
        _ = try await fleet.runDocumentExpirySweep(FleetV1.RunDocumentExpirySweepRequest(), options: walk.on(F.runDocumentExpirySweep, platform))

        let maintenance = try await fleet.scheduleMaintenance(
            FleetV1.ScheduleMaintenanceRequest(vehicleId: vehicle, period: Self.days(20, 21), reason: "tyres"), options: walk.on(F.scheduleMaintenance, vendor.admin)
        ).maintenance!
        _ = try await fleet.startMaintenance(FleetV1.StartMaintenanceRequest(maintenanceId: maintenance.id), options: walk.on(F.startMaintenance, vendor.admin))
        _ = try await fleet.completeMaintenance(FleetV1.CompleteMaintenanceRequest(maintenanceId: maintenance.id), options: walk.on(F.completeMaintenance, vendor.admin))
        _ = try await fleet.getMaintenance(FleetV1.GetMaintenanceRequest(maintenanceId: maintenance.id), options: walk.on(F.getMaintenance, vendor.admin))
        _ = try await fleet.listMaintenance(FleetV1.ListMaintenanceRequest(vehicleId: vehicle), options: walk.on(F.listMaintenance, vendor.admin))
        let cancelled = try await fleet.scheduleMaintenance(
            FleetV1.ScheduleMaintenanceRequest(vehicleId: vehicle, period: Self.days(22, 23), reason: "oil"), options: vendor.admin.callOptions
        ).maintenance!
        _ = try await fleet.cancelMaintenance(FleetV1.CancelMaintenanceRequest(maintenanceId: cancelled.id), options: walk.on(F.cancelMaintenance, vendor.admin))
        let block = try await fleet.placeBlock(
            FleetV1.PlaceBlockRequest(vehicleId: vehicle, period: Self.days(25, 26), reason: "photo shoot"), options: walk.on(F.placeBlock, vendor.admin)
        ).block!
        _ = try await fleet.removeBlock(FleetV1.RemoveBlockRequest(blockId: block.id), options: walk.on(F.removeBlock, vendor.admin))
        _ = try await fleet.listBlocks(FleetV1.ListBlocksRequest(vehicleId: vehicle), options: walk.on(F.listBlocks, vendor.admin))

        let spare = try await register(vendor)
        try await activate(spare, vendor)
        var suspendOwn = FleetV1.SuspendVehicleRequest()
        suspendOwn.vehicleId = spare
        suspendOwn.reason = .vendorRequest
        suspendOwn.period = Self.open(30, 31)
        let suspension = try await fleet.suspendVehicle(suspendOwn, options: walk.on(F.suspendVehicle, vendor.admin)).suspension!
        _ = try await fleet.liftSuspension(FleetV1.LiftSuspensionRequest(suspensionId: suspension.id), options: walk.on(F.liftSuspension, vendor.admin))
        _ = try await fleet.listSuspensions(FleetV1.ListSuspensionsRequest(vehicleId: spare), options: walk.on(F.listSuspensions, vendor.admin))
        let retired = try await register(vendor)
        _ = try await fleet.retireVehicle(FleetV1.RetireVehicleRequest(vehicleId: retired), options: walk.on(F.retireVehicle, vendor.admin))

        _ = try await fleet.setTurnaroundBuffer(FleetV1.SetTurnaroundBufferRequest(minutes: 30), options: walk.on(F.setTurnaroundBuffer, vendor.admin))
        _ = try await availability.checkAvailability(
            FleetV1.CheckAvailabilityRequest(vehicleId: vehicle, period: Self.open(40, 41)), options: walk.on(A.checkAvailability, vendor.admin)
        )
        let source = UUID().uuidString.lowercased()
        let record = try await availability.createAvailabilityRecord(FleetV1.CreateAvailabilityRecordRequest(
            vehicleId: vehicle, period: Self.open(40, 41), status: .reserved, sourceType: .booking, sourceId: source
        ), options: walk.on(A.createAvailabilityRecord, vendor.admin)).record!
        _ = try await availability.changeAvailabilityStatus(
            FleetV1.ChangeAvailabilityStatusRequest(recordId: record.id, status: .allocated), options: walk.on(A.changeAvailabilityStatus, vendor.admin)
        )
        _ = try await availability.releaseAvailability(
            FleetV1.ReleaseAvailabilityRequest(sourceType: .booking, sourceId: source), options: walk.on(A.releaseAvailability, vendor.admin)
        )
        _ = try await availability.getVehicleTimeline(
            FleetV1.GetVehicleTimelineRequest(vehicleId: vehicle, period: Self.days(0, 60)), options: walk.on(A.getVehicleTimeline, vendor.admin)
        )
        _ = try await fleet.searchAvailableVehicles(
            FleetV1.SearchAvailableVehiclesRequest(period: Self.days(60, 61)), options: walk.on(F.searchAvailableVehicles, manager)
        )
        let window = Self.days(60, 67)
        _ = try await fleet.searchFlexibleStart(
            FleetV1.SearchFlexibleStartRequest(earliestStart: window.start, latestStart: window.end, durationMinutes: 24 * 60),
            options: walk.on(F.searchFlexibleStart, manager)
        )

        // MARK: Booking, allocations, assignment
        var allocation = BookingV1.SetAllocationRequest()
        allocation.employeeId = CommonV1.StringValue(value: employee.userID)
        allocation.maxActiveBookings = 2
        allocation.maxDaysPerMonth = 10
        _ = try await allocations.setAllocation(allocation, options: walk.on(L.setAllocation, corporate.admin))
        _ = try await allocations.listAllocations(BookingV1.ListAllocationsRequest(), options: walk.on(L.listAllocations, corporate.admin))
        var usage = BookingV1.GetAllocationUsageRequest()
        usage.employeeId = CommonV1.StringValue(value: employee.userID)
        _ = try await allocations.getAllocationUsage(usage, options: walk.on(L.getAllocationUsage, corporate.admin))
        _ = try await allocations.removeEmployeeAllocation(
            BookingV1.RemoveEmployeeAllocationRequest(employeeId: employee.userID), options: walk.on(L.removeEmployeeAllocation, corporate.admin)
        )

        /// A booking of the vendor's vehicle over `period`, moved as far as `until` (untraced).
        enum Stage: Int { case draft, requested, assigned, active }
        func booking(_ period: CommonV1.Period, until stage: Stage) async throws -> (id: String, assignment: String) {
            let id = try await bookings.createBooking(BookingV1.CreateBookingRequest(vehicleId: vehicle, period: period), options: manager.callOptions).booking!.id
            var assignment = ""
            if stage.rawValue >= Stage.requested.rawValue {
                _ = try await bookings.submitBooking(BookingV1.SubmitBookingRequest(bookingId: id), options: manager.callOptions)
            }
            if stage.rawValue >= Stage.assigned.rawValue {
                _ = try await bookings.approveBooking(BookingV1.ApproveBookingRequest(bookingId: id), options: vendor.admin.callOptions)
                assignment = try await bookings.assignBooking(BookingV1.AssignBookingRequest(bookingId: id, employeeId: employee.userID), options: manager.callOptions).assignmentId
            }
            if stage == .active {
                _ = try await assignments.acceptAssignment(AssignmentV1.AcceptAssignmentRequest(assignmentId: assignment), options: employee.callOptions)
                var activateIt = BookingV1.ActivateBookingRequest()
                activateIt.bookingId = id
                activateIt.evidence = BookingV1.HandoverReading(odometerKm: 1000, fuelPercent: 80)
                _ = try await bookings.activateBooking(activateIt, options: manager.callOptions)
            }
            return (id, assignment)
        }
        // The whole path of one booking, traced.
        let first = try await bookings.createBooking(
            BookingV1.CreateBookingRequest(vehicleId: vehicle, period: Self.days(1, 2)), options: walk.on(B.createBooking, manager)
        ).booking!.id
        _ = try await bookings.submitBooking(BookingV1.SubmitBookingRequest(bookingId: first), options: walk.on(B.submitBooking, manager))
        _ = try await bookings.listVendorBookingRequests(BookingV1.ListVendorBookingRequestsRequest(), options: walk.on(B.listVendorBookingRequests, vendor.admin))
        _ = try await bookings.approveBooking(BookingV1.ApproveBookingRequest(bookingId: first), options: walk.on(B.approveBooking, vendor.admin))
        let firstAssignment = try await bookings.assignBooking(
            BookingV1.AssignBookingRequest(bookingId: first, employeeId: employee.userID), options: walk.on(B.assignBooking, manager)
        ).assignmentId
        _ = try await assignments.acceptAssignment(AssignmentV1.AcceptAssignmentRequest(assignmentId: firstAssignment), options: walk.on(S.acceptAssignment, employee))
        var activateFirst = BookingV1.ActivateBookingRequest()
        activateFirst.bookingId = first
        activateFirst.evidence = BookingV1.HandoverReading(odometerKm: 1000, fuelPercent: 80)
        _ = try await bookings.activateBooking(activateFirst, options: walk.on(B.activateBooking, manager))
        var completeFirst = BookingV1.CompleteBookingRequest()
        completeFirst.bookingId = first
        completeFirst.evidence = BookingV1.HandoverReading(odometerKm: 1250, fuelPercent: 60)
        _ = try await bookings.completeBooking(completeFirst, options: walk.on(B.completeBooking, manager))
        _ = try await bookings.getBooking(BookingV1.GetBookingRequest(bookingId: first), options: walk.on(B.getBooking, manager))
        _ = try await bookings.listCorporateBookings(BookingV1.ListCorporateBookingsRequest(), options: walk.on(B.listCorporateBookings, manager))

        // Rejected by the employee, reassigned to a colleague, handed over, then recalled by the corporate.
        let second = try await booking(Self.days(3, 4), until: .assigned)
        var rejectIt = AssignmentV1.RejectAssignmentRequest()
        rejectIt.assignmentId = second.assignment
        rejectIt.reason = CommonV1.StringValue(value: "on leave")
        _ = try await assignments.rejectAssignment(rejectIt, options: walk.on(S.rejectAssignment, employee))
        var reassign = AssignmentV1.ReassignAssignmentRequest()
        reassign.assignmentId = second.assignment
        reassign.employeeId = colleague.userID
        let replacement = try await assignments.reassignAssignment(reassign, options: walk.on(S.reassignAssignment, manager)).assignment!.id
        _ = try await assignments.acceptAssignment(AssignmentV1.AcceptAssignmentRequest(assignmentId: replacement), options: colleague.callOptions)
        var activateSecond = BookingV1.ActivateBookingRequest()
        activateSecond.bookingId = second.id
        activateSecond.evidence = BookingV1.HandoverReading(odometerKm: 1300, fuelPercent: 90)
        _ = try await bookings.activateBooking(activateSecond, options: manager.callOptions)
        var terminate = BookingV1.TerminateBookingRequest()
        terminate.bookingId = second.id
        terminate.reason = .corporateRecall
        _ = try await bookings.terminateBooking(terminate, options: walk.on(B.terminateBooking, manager))

        let refused = try await booking(Self.days(5, 6), until: .requested)
        var rejectBooking = BookingV1.RejectBookingRequest()
        rejectBooking.bookingId = refused.id
        rejectBooking.reason = "vehicle promised elsewhere"
        _ = try await bookings.rejectBooking(rejectBooking, options: walk.on(B.rejectBooking, vendor.admin))
        let dropped = try await booking(Self.days(7, 8), until: .requested)
        _ = try await bookings.cancelBooking(BookingV1.CancelBookingRequest(bookingId: dropped.id), options: walk.on(B.cancelBooking, manager))
        _ = try await bookings.expireBookingRequests(BookingV1.ExpireBookingRequestsRequest(), options: walk.on(B.expireBookingRequests, platform))

        // A corporate-owned vehicle assigned directly: accepted, activated, completed; another closed.
        let own = try await register(corporate)
        try await activate(own, corporate)
        let direct = try await assignments.createAssignment(
            AssignmentV1.CreateAssignmentRequest(vehicleId: own, employeeId: employee.userID, period: Self.open(1, 2)), options: walk.on(S.createAssignment, manager)
        ).assignment!.id
        _ = try await assignments.acceptAssignment(AssignmentV1.AcceptAssignmentRequest(assignmentId: direct), options: employee.callOptions)
        _ = try await assignments.activateAssignment(AssignmentV1.ActivateAssignmentRequest(assignmentId: direct), options: walk.on(S.activateAssignment, manager))
        _ = try await assignments.completeAssignment(AssignmentV1.CompleteAssignmentRequest(assignmentId: direct), options: walk.on(S.completeAssignment, manager))
        _ = try await assignments.getAssignment(AssignmentV1.GetAssignmentRequest(assignmentId: direct), options: walk.on(S.getAssignment, manager))
        _ = try await assignments.listAssignments(AssignmentV1.ListAssignmentsRequest(), options: walk.on(S.listAssignments, manager))
        _ = try await assignments.listMyAssignments(AssignmentV1.ListMyAssignmentsRequest(), options: walk.on(S.listMyAssignments, employee))
        let closing = try await assignments.createAssignment(
            AssignmentV1.CreateAssignmentRequest(vehicleId: own, employeeId: colleague.userID, period: Self.open(5, 6)), options: manager.callOptions
        ).assignment!.id
        _ = try await assignments.closeAssignment(AssignmentV1.CloseAssignmentRequest(assignmentId: closing), options: walk.on(S.closeAssignment, manager))

        // MARK: Administration (moderation)
        let moderated = try await booking(Self.days(9, 10), until: .active)
        var terminateIt = AdministrationV1.TerminateBookingRequest()
        terminateIt.bookingId = moderated.id
        terminateIt.notes = "safety complaint"
        _ = try await administration.terminateBooking(terminateIt, options: walk.on(M.terminateBooking, platform))
        var suspendVehicle = AdministrationV1.SuspendVehicleRequest()
        suspendVehicle.vehicleId = spare
        suspendVehicle.period = Self.open(70, 71)
        suspendVehicle.notes = "complaint under review"
        _ = try await administration.suspendVehicle(suspendVehicle, options: walk.on(M.suspendVehicle, platform))
        var blockVehicle = AdministrationV1.BlockVehicleRequest()
        blockVehicle.vehicleId = vehicle
        blockVehicle.period = Self.days(50, 51)
        blockVehicle.reason = "inspection"
        _ = try await administration.blockVehicle(blockVehicle, options: walk.on(M.blockVehicle, platform))
        let offender = try await market.member(of: vendor, role: "VENDOR_STAFF")
        var disableIt = AdministrationV1.DisableUserRequest()
        disableIt.userId = offender.userID
        disableIt.reason = "abuse"
        _ = try await administration.disableUser(disableIt, options: walk.on(M.disableUser, platform))
        _ = try await administration.listModerationActions(AdministrationV1.ListModerationActionsRequest(), options: walk.on(M.listModerationActions, platform))
    }
}

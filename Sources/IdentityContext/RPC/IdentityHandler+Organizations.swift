import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC

/// Organizations: registered (public onboarding), read, listed; the roles they can grant.
extension IdentityHandler {
    func registerOrganization(
        _ request: IdentityV1.RegisterOrganizationRequest, context: ServerCallContext
    ) async throws -> IdentityV1.RegisterOrganizationResponse {
        var check = Validation()
        let name = check.text(request.organizationName, "organizationName", maximumLength: 200)
        let kind = registrableKind(request.organizationType, &check)
        let metadata = check.metadata(request.metadata, "metadata")
        let firstName = check.personName(request.adminFirstName, "adminFirstName")
        let lastName = check.personName(request.adminLastName, "adminLastName")
        let email = check.email(request.adminEmail, "adminEmail")
        let phone = check.phone(request.adminPhone, "adminPhone")
        let password = check.password(request.adminPassword, "adminPassword", email: email)
        try check.finish()
        let organization = NewOrganization(name: name, kind: kind, metadata: metadata)
        let admin = NewUser(
            firstName: firstName, lastName: lastName, email: email, phone: phone, passwordHash: try await service.hasher.hash(password)
        )
        // The applicant acts, for the organization being created.
        let origin = EventOrigin(
            actor: EventsV1.Actor(id: admin.id.lowercased, type: .user), organizationID: organization.id.lowercased,
            correlationID: EventOrigin(call: context).correlationID
        )
        var fingerprint = request
        fingerprint.adminPassword = ""
        return try await mutation(context, fingerprint: fingerprint, origin: origin) { work in
            let (created, user, membership) = try await service.register(organization, admin: admin, on: work)
            return IdentityV1.RegisterOrganizationResponse(organization: created.message, adminUser: user.message, adminMembership: membership.message)
        }
    }

    private func registrableKind(_ type: IdentityV1.OrganizationType, _ check: inout Validation) -> TenantKind {
        guard let kind = TenantKind(type), kind != .platform else {
            check.add("organizationType", type.isProtoDefault ? "REQUIRED" : "UNKNOWN_VALUE", "organizationType must be VENDOR or CORPORATE")
            return .vendor
        }
        return kind
    }

    func getOrganization(
        _ request: IdentityV1.GetOrganizationRequest, context: ServerCallContext
    ) async throws -> IdentityV1.GetOrganizationResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.organizationId, "organizationId")
        try check.finish()
        let organization = try await service.reachableOrganization(id, caller: caller, on: service.pool)
        return IdentityV1.GetOrganizationResponse(organization: organization.message)
    }

    func listOrganizations(
        _ request: IdentityV1.ListOrganizationsRequest, context: ServerCallContext
    ) async throws -> IdentityV1.ListOrganizationsResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        var filter = OrganizationStore.Filter(visibleTo: caller.actsAcrossTenants ? nil : caller.organizationID)
        if !request.organizationType.isProtoDefault {
            filter.kind = TenantKind(check.known(request.organizationType, "organizationType"))
        }
        filter.statuses = check.knownList(request.statuses, "statuses").compactMap(TenantStatus.init)
        filter.parentID = check.optionalUUID(request.parentOrganizationId, "parentOrganizationId.value")
        filter.namePrefix = check.optionalText(request.namePrefix, "namePrefix.value", maximumLength: 200)
        try check.finish()
        let page = try Keyset.parse(request.page)
        let rows = try await OrganizationStore.list(filter, page: page, on: service.pool)
        let (kept, next) = page.page(rows) { ($0.createdAt, $0.id) }
        return IdentityV1.ListOrganizationsResponse(organizations: kept.map(\.message), page: next)
    }

    /// The roles of the caller's organization type; platform administrators may ask for any type.
    func listRoles(_ request: IdentityV1.ListRolesRequest, context: ServerCallContext) async throws -> IdentityV1.ListRolesResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        var kind = caller.organizationKind
        if !request.organizationType.isProtoDefault {
            kind = TenantKind(check.known(request.organizationType, "organizationType")) ?? kind
        }
        try check.finish()
        guard kind == caller.organizationKind || caller.actsAcrossTenants else {
            throw RPCError(.permissionDenied, "only platform administrators list other organization types' roles", domainCode: "PERMISSION_DENIED")
        }
        let size = try PageSize.resolve(request.page?.pageSize ?? 0, default: 50, maximum: 200)
        let after = try PageToken.decode(request.page?.pageToken ?? "", components: 1)?.first
        let roles = try await RoleStore.list(kind: kind, afterName: after, limit: size + 1, on: service.pool)
        let kept = Array(roles.prefix(size))
        let next = roles.count > size ? PageToken.encode([kept[kept.count - 1].name]) : ""
        return IdentityV1.ListRolesResponse(roles: kept.map(\.message), page: CommonV1.PageResponse(nextPageToken: next))
    }
}

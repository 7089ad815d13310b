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
        let admin = check.profile(
            firstName: request.adminFirstName, lastName: request.adminLastName, email: request.adminEmail, phone: request.adminPhone,
            prefix: "admin"
        )
        let password = check.password(request.adminPassword, "adminPassword", email: admin.email)
        try check.finish()
        var fingerprint = request
        fingerprint.adminPassword = ""
        let registration = try await identity.register(
            NewOrganization(name: name, kind: kind, metadata: metadata), admin: admin, password: password, from: ClientAddress(context),
            Invocation(context, fingerprint: fingerprint)
        )
        return IdentityV1.RegisterOrganizationResponse(
            organization: registration.organization.message, adminUser: registration.admin.message,
            adminMembership: registration.membership.message
        )
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
        var check = Validation()
        let id = check.uuid(request.organizationId, "organizationId")
        try check.finish()
        let organization = try await identity.organization(id, Invocation(context, fingerprint: request))
        return IdentityV1.GetOrganizationResponse(organization: organization.message)
    }

    func listOrganizations(
        _ request: IdentityV1.ListOrganizationsRequest, context: ServerCallContext
    ) async throws -> IdentityV1.ListOrganizationsResponse {
        var check = Validation()
        var filter = OrganizationFilter()
        if !request.organizationType.isProtoDefault {
            filter.kind = TenantKind(check.known(request.organizationType, "organizationType"))
        }
        filter.statuses = check.knownList(request.statuses, "statuses").compactMap(TenantStatus.init)
        filter.parentID = check.optionalUUID(request.parentOrganizationId, "parentOrganizationId.value")
        filter.namePrefix = check.optionalText(request.namePrefix, "namePrefix.value", maximumLength: 200)
        try check.finish()
        let page = try Page<TimeKey>(request.page, list: "identity.organizations", tokens: pages)
        let rows = try await identity.organizations(filter, page: page, Invocation(context, fingerprint: request))
        let (kept, next) = page.cut(rows) { TimeKey($0.createdAt, $0.id) }
        return IdentityV1.ListOrganizationsResponse(organizations: kept.map(\.message), page: next)
    }

    /// The roles of the caller's organization type; platform administrators may ask for any type.
    func listRoles(_ request: IdentityV1.ListRolesRequest, context: ServerCallContext) async throws -> IdentityV1.ListRolesResponse {
        var check = Validation()
        var kind: TenantKind?
        if !request.organizationType.isProtoDefault {
            kind = TenantKind(check.known(request.organizationType, "organizationType"))
        }
        try check.finish()
        let page = try Page<String>(request.page, list: "identity.roles", tokens: pages, maximum: 200)
        let roles = try await identity.roles(of: kind, page: page, Invocation(context, fingerprint: request))
        let (kept, next) = page.cut(roles) { $0.name }
        return IdentityV1.ListRolesResponse(roles: kept.map(\.message), page: next)
    }
}

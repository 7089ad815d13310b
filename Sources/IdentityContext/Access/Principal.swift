import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto
import NIOCore

/// Who a token's principal is right now, as the database says: what the authorization cache
/// holds. Token-independent (many tokens share one). Immutable, and a class so that handing it
/// to each call (cache, call attributes) copies a reference, not the records.
final class Principal: Sendable {
    let organization: OrganizationRecord
    /// The role's (users) or the account's (service accounts) permissions, before the
    /// organization's status is taken into account.
    let granted: Set<Permission>
    let user: UserRecord?
    let membership: MembershipRecord?
    let serviceAccount: ServiceAccountRecord?
    /// Resolved once per load, not per call.
    let caller: Caller
    /// WhoAmI's answer but for the token's expiry: built once per load, since WhoAmI is the
    /// cheapest authenticated read and must stay cheap.
    let whoAmI: IdentityV1.WhoAmIResponse
    /// `whoAmI`, encoded.
    let whoAmIBytes: [UInt8]

    init(organization: OrganizationRecord, granted: Set<Permission>, user: UserRecord?, membership: MembershipRecord?, serviceAccount: ServiceAccountRecord?) {
        self.organization = organization
        self.granted = granted
        self.user = user
        self.membership = membership
        self.serviceAccount = serviceAccount
        caller = Caller(
            kind: serviceAccount == nil ? .user : .serviceAccount, principalID: serviceAccount?.id ?? user?.id ?? UUID.random(),
            organizationID: organization.id, organizationKind: organization.kind, organizationStatus: organization.status,
            membershipID: membership?.id,
            permissions: EffectivePermissions.resolve(granted, organizationStatus: organization.status)
        )
        whoAmI = IdentityV1.WhoAmIResponse(
            principalType: serviceAccount == nil ? .user : .serviceAccount, user: user?.message, membership: membership?.message,
            serviceAccount: serviceAccount?.message, organization: organization.message,
            permissions: caller.permissions.sorted().map(\.rawValue)
        )
        whoAmIBytes = ProtoCodec.encode(whoAmI)
    }

    /// The encoded WhoAmI answer with `tokenExpiresAt` set (`token_expires_at = 7`, a
    /// `Timestamp` of whole seconds), starting `headroom` bytes into the buffer.
    func encodedWhoAmI(tokenExpiresAt seconds: Int64, headroom: Int) -> ByteBuffer {
        let secondsValue = UInt64(bitPattern: seconds)
        let timestampBytes = seconds == 0 ? 0 : 1 + ProtoWire.varintSize(secondsValue)
        let size = whoAmIBytes.count + 2 + timestampBytes
        var buffer = ByteBufferAllocator().buffer(capacity: headroom + size)
        buffer.moveWriterIndex(forwardBy: headroom)
        buffer.moveReaderIndex(forwardBy: headroom)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
            whoAmIBytes.withUnsafeBytes { out.copyMemory(from: $0) }
            var at = whoAmIBytes.count
            out[at] = 7 << 3 | 2  // token_expires_at, length-delimited
            out[at + 1] = UInt8(timestampBytes)
            at += 2
            if seconds != 0 {
                out[at] = 1 << 3  // seconds, varint
                at += 1
                ProtoWire.writeVarint(secondsValue) { byte in
                    out[at] = byte
                    at += 1
                }
            }
            return at
        }
        return buffer
    }

    /// Active principals only: an ACTIVE membership of an ACTIVE user, or an ACTIVE account.
    var isActive: Bool {
        if let serviceAccount { return serviceAccount.status == .active }
        return membership?.status == .active && user?.status == .active
    }
}

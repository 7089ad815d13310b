import Foundation
import KaroKarKernel
import KaroKarMessages

/// Domain -> wire, at the RPC edge only.
extension AuditRecord {
    var message: AuditV1.AuditRecord {
        AuditV1.AuditRecord(
            id: id.lowercasedString, eventId: eventID.lowercasedString, eventType: eventType, entityType: entityType,
            entityId: entityID, actorId: actorID.map { CommonV1.StringValue(value: $0) }, actorType: actorType.message,
            organizationId: organizationID?.lowercasedString ?? "", occurredAt: occurredAt.timestamp, recordedAt: recordedAt.timestamp,
            correlationId: correlationID, payload: payload, sequence: sequence, previousHash: previousHash, recordHash: recordHash
        )
    }
}

extension AuditActorType {
    var message: AuditV1.ActorType {
        switch self {
        case .user: .user
        case .serviceAccount: .serviceAccount
        case .system: .system
        case .unspecified: .unspecified
        }
    }
}

extension ChainReport {
    var message: AuditV1.ChainVerification {
        AuditV1.ChainVerification(
            intact: intact, firstSequence: firstSequence, lastSequence: lastSequence, recordsChecked: recordsChecked,
            firstBrokenSequence: firstBrokenSequence.map { CommonV1.Int64Value(value: $0) }, failureCode: failureCode,
            headHash: headHash, verifiedAt: verifiedAt.timestamp
        )
    }
}

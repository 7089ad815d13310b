import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarProto
import KaroKarRPC
import KaroKarServices

/// `karokar.events.v1.EventOperationsService`: consumer lag and dead letters, for platform
/// administrators (permission `events.manage`, acting for the platform organization). The event
/// platform is the kernel's; the server serves its operations beside the contexts.
struct EventOperationsHandler: EventsV1.EventOperationsService.Handler {
    let pool: PostgresPool

    /// Every method acts on all tenants' events: only for the platform organization.
    private func requirePlatform(_ context: ServerCallContext) throws(RPCError) {
        guard let caller = context.caller, caller.organizationKind == .platform, caller.permissions.contains(.eventsManage) else {
            throw RPCError(.permissionDenied, "operating the event platform is for platform administrators", domainCode: "PERMISSION_DENIED")
        }
    }

    private static func validConsumer(_ name: String) -> Bool {
        name.range(of: "^[a-z][a-z0-9_]{0,62}$", options: .regularExpression) != nil
    }

    func listConsumers(_ request: EventsV1.ListConsumersRequest, context: ServerCallContext) async throws -> EventsV1.ListConsumersResponse {
        try requirePlatform(context)
        let lags = try await EventConsumers(pool: pool).lag()
        return EventsV1.ListConsumersResponse(consumers: lags.map { lag in
            EventsV1.ConsumerLag(
                consumer: lag.consumer, pending: Int64(lag.pending), dead: Int64(lag.dead),
                oldestPendingAgeSeconds: lag.oldestPendingAgeSeconds, position: lag.position, head: lag.head,
                onDeadLetter: lag.onDeadLetter.rawValue, patterns: lag.patterns, lastSeenSecondsAgo: lag.lastSeenSecondsAgo
            )
        })
    }

    func listDeadLetters(_ request: EventsV1.ListDeadLettersRequest, context: ServerCallContext) async throws -> EventsV1.ListDeadLettersResponse {
        try requirePlatform(context)
        var check = Validation()
        if !request.consumer.isEmpty, !Self.validConsumer(request.consumer) {
            check.add("consumer", "MALFORMED", "a consumer name: lower-case letters, digits and underscores")
        }
        let limit = check.range(request.limit, "limit", 0...1000)
        let after = check.range(request.afterSequence, "afterSequence", 0...Int64.max)
        try check.finish()
        let letters = try await DeadLetters(pool: pool).list(
            consumer: request.consumer.isEmpty ? nil : request.consumer, after: after, limit: limit == 0 ? 100 : Int(limit)
        )
        return EventsV1.ListDeadLettersResponse(deadLetters: letters.map { letter in
            EventsV1.DeadLetter(
                consumer: letter.consumer, sequence: letter.seq, attempts: Int32(clamping: letter.attempts),
                lastError: letter.lastError, event: letter.envelope
            )
        })
    }

    private func key(_ consumer: String, _ sequence: Int64) throws(RPCError) {
        var check = Validation()
        if !Self.validConsumer(consumer) {
            check.add("consumer", consumer.isEmpty ? "REQUIRED" : "MALFORMED", "a consumer name: lower-case letters, digits and underscores")
        }
        _ = check.range(sequence, "sequence", 1...Int64.max)
        try check.finish()
    }

    private static let notFound = RPCError(.notFound, "no such dead letter", domainCode: "DEAD_LETTER_NOT_FOUND")

    func replayDeadLetter(_ request: EventsV1.ReplayDeadLetterRequest, context: ServerCallContext) async throws -> EventsV1.ReplayDeadLetterResponse {
        try requirePlatform(context)
        try key(request.consumer, request.sequence)
        guard try await DeadLetters(pool: pool).replay(consumer: request.consumer, seq: request.sequence) else { throw Self.notFound }
        return EventsV1.ReplayDeadLetterResponse()
    }

    func discardDeadLetter(_ request: EventsV1.DiscardDeadLetterRequest, context: ServerCallContext) async throws -> EventsV1.DiscardDeadLetterResponse {
        try requirePlatform(context)
        try key(request.consumer, request.sequence)
        guard try await DeadLetters(pool: pool).discard(consumer: request.consumer, seq: request.sequence) else { throw Self.notFound }
        return EventsV1.DiscardDeadLetterResponse()
    }
}

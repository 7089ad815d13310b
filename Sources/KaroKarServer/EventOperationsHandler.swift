import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarProto
import KaroKarRPC
import KaroKarServices

/// `karokar.events.v1.EventOperationsService`: consumer lag and dead letters, for platform
/// administrators (permission `events.manage`, acting for the platform organization). The event
/// platform is the kernel's; the server serves its operations beside the contexts. What changes
/// something (replay, discard, forget) runs as a mutation publishing its `events.*` event, so the
/// operator's act has its audit record like any business action.
struct EventOperationsHandler: EventsV1.EventOperationsService.Handler {
    let bus: EventBus
    var pool: PostgresPool { bus.pool }

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
        let invocation = try Invocation(context, fingerprint: request)
        _ = try await bus.mutation(invocation) { work -> DeadLetters.Acted in
            guard let acted = try await DeadLetters.replay(consumer: request.consumer, seq: request.sequence, work) else { throw Self.notFound }
            return acted
        }
        return EventsV1.ReplayDeadLetterResponse()
    }

    func discardDeadLetter(_ request: EventsV1.DiscardDeadLetterRequest, context: ServerCallContext) async throws -> EventsV1.DiscardDeadLetterResponse {
        try requirePlatform(context)
        try key(request.consumer, request.sequence)
        let invocation = try Invocation(context, fingerprint: request)
        _ = try await bus.mutation(invocation) { work -> DeadLetters.Acted in
            guard let acted = try await DeadLetters.discard(consumer: request.consumer, seq: request.sequence, work) else { throw Self.notFound }
            return acted
        }
        return EventsV1.DiscardDeadLetterResponse()
    }

    func forgetConsumer(_ request: EventsV1.ForgetConsumerRequest, context: ServerCallContext) async throws -> EventsV1.ForgetConsumerResponse {
        try requirePlatform(context)
        var check = Validation()
        if !Self.validConsumer(request.consumer) {
            check.add("consumer", request.consumer.isEmpty ? "REQUIRED" : "MALFORMED", "a consumer name: lower-case letters, digits and underscores")
        }
        try check.finish()
        guard !bus.registeredConsumerNames.contains(request.consumer) else {
            throw RPCError(
                .failedPrecondition, "consumer \(request.consumer) runs in this server: retire it from the code and redeploy first",
                domainCode: "CONSUMER_IN_USE"
            )
        }
        let invocation = try Invocation(context, fingerprint: request)
        let dropped = try await bus.mutation(invocation) { work -> Int64 in
            guard let dropped = try await EventConsumers.forget(consumer: request.consumer, work) else {
                throw RPCError(.notFound, "no such consumer", domainCode: "CONSUMER_NOT_FOUND")
            }
            return dropped
        }
        return EventsV1.ForgetConsumerResponse(deliveriesDropped: dropped)
    }
}

public import KaroKarKernel
import KaroKarMessages
import KaroKarProto
public import KaroKarRPC
public import Logging
import Foundation
import KaroKarPostgres

/// The Fleet context's door (DOMAIN.md section 5): every RPC enters here, one unit of work each.
/// It holds no business state (the database is the source of truth), so reentrancy at its
/// `await`s is safe; rules live in ``VehicleLifecycle``-style pure types and the operations.
public actor Fleet {
    let bus: EventBus
    let options: FleetOptions
    let logger: Logger

    public init(bus: EventBus, options: FleetOptions = FleetOptions(), logger: Logger) {
        self.bus = bus
        self.options = options
        self.logger = logger
        FleetReactions.install(on: bus)
    }

    /// A mutating verb: idempotent on the call's `idempotency-key`, one unit of work, its events
    /// carrying the call's origin.
    func mutation<Request: ProtoMessage, Response: ProtoMessage>(
        _ context: ServerCallContext, _ request: Request, _ body: @Sendable (UnitOfWork) async throws -> Response
    ) async throws -> Response {
        try await Idempotency.mutation(context, request: request, bus: bus, origin: EventOrigin(call: context), body)
    }

    /// A read: one transaction, so a page is a consistent snapshot.
    func read<Response: Sendable>(_ context: ServerCallContext, _ body: @Sendable (UnitOfWork) async throws -> Response) async throws -> Response {
        try await bus.transaction(EventOrigin(call: context), isolation: .repeatableRead, body)
    }

    func sweep(_ request: FleetV1.RunDocumentExpirySweepRequest, owner: UUID?, asOf: PostgresTimestamp, context: ServerCallContext) async throws
        -> FleetV1.RunDocumentExpirySweepResponse
    {
        try await DocumentExpirySweep.run(asOf: asOf, owner: owner, dryRun: request.dryRun, bus: bus, origin: EventOrigin(call: context))
    }

    /// Background work: the periodic document expiry sweep.
    public func runBackgroundJobs() async {
        guard let interval = options.documentSweepInterval else { return }
        await DocumentExpirySweep.runPeriodically(every: interval, bus: bus, logger: logger)
    }

    /// The service definitions this context serves.
    public nonisolated var services: [RPCServiceDefinition] {
        [FleetHandler(fleet: self).serviceDefinition(), AvailabilityHandler(fleet: self).serviceDefinition()]
    }
}

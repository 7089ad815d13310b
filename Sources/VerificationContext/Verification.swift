public import KaroKarKernel
public import KaroKarPostgres
public import KaroKarRPC
import KaroKarServices

/// The Verification context's front door (DOMAIN.md section 8): what the platform trusts about
/// organizations, users, vehicles and vehicle documents, as records with a history, a reviewer and
/// an expiry (never a flag), one use case per verb (`Application/Verification+*.swift`). It holds
/// no business state, so its use cases are `nonisolated`.
///
/// Facts about subjects owned by other contexts come through the kernel's query ports, read in
/// Verification's own transaction: ``VehicleDirectory`` and ``VehicleDocumentDirectory`` (Fleet),
/// ``MemberDirectory`` (Identity). Fleet reacts to its events inside its transactions (the
/// activation gate's view; an expired or revoked vehicle verification suspends the vehicle).
/// External providers are asked after commit, by a consumer of `verification.submitted`
/// (`Application/Verification+Providers.swift`). See the README next to this file for its rules.
public actor Verification: BoundedContext {
    public static let migrations: [Migration] = VerificationMigrations.all

    nonisolated let environment: ContextEnvironment
    nonisolated let vehicles: any VehicleDirectory
    nonisolated let documents: any VehicleDocumentDirectory
    nonisolated let members: any MemberDirectory
    nonisolated let options: VerificationOptions
    /// The configured external providers, by name.
    nonisolated let providers: [String: any VerificationProvider]

    public init(
        environment: ContextEnvironment, vehicles: any VehicleDirectory, documents: any VehicleDocumentDirectory,
        members: any MemberDirectory, options: VerificationOptions = VerificationOptions()
    ) {
        self.environment = environment.named("verification")
        self.vehicles = vehicles
        self.documents = documents
        self.members = members
        self.options = options
        var providers: [String: any VerificationProvider] = [:]
        for configuration in options.httpProviders {
            providers[configuration.name] = HTTPVerificationProvider(configuration, clock: environment.clock)
        }
        self.providers = providers
        subscribeConsumers(to: environment.bus)
    }

    nonisolated var bus: EventBus { environment.bus }

    /// `karokar.verification.v1.VerificationService`.
    public nonisolated var services: [RPCServiceDefinition] {
        [VerificationHandler(verification: self).serviceDefinition()]
    }

    /// The expiry sweep, every ``VerificationOptions/expirySweepInterval``, until cancelled,
    /// and the external providers' workers (``askProvidersContinuously()``).
    public nonisolated func runBackgroundWork() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.askProvidersContinuously() }
            if let interval = self.options.expirySweepInterval {
                group.addTask { await self.expirePeriodically(every: interval) }
            }
        }
    }
}

/// Verification's settings (from the server's configuration).
public struct VerificationOptions: Sendable {
    /// How often the expiry sweep runs; nil: never by itself (the RPC still runs it).
    public var expirySweepInterval: Duration? = .seconds(3600)
    /// Verifications one sweep transaction expires at most (the sweep loops until none is due).
    public var expiryBatchSize = 100
    /// External providers that answer over HTTP (``HTTPProviderConfiguration``).
    public var httpProviders: [HTTPProviderConfiguration] = []
    /// Provider workers per server process (each asks one provider at a time).
    public var providerWorkers = 2
    /// How often an idle provider worker looks for due questions.
    public var providerPollInterval: Duration = .milliseconds(200)
    /// A claimed question no one settles within this is due again (its worker died). Longer
    /// than one check's worst case (every attempt timing out, every backoff: at most 20 s).
    public var providerLease: Duration = .seconds(60)
    /// Backoff before a question without an answer is asked again: doubling from the first, capped.
    public var providerFirstRetryDelay: Duration = .milliseconds(100)
    public var providerMaximumRetryDelay: Duration = .seconds(300)

    public init() {}
}

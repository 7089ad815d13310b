public import Logging
public import ServiceLifecycle

/// How `karokar-server serve` runs: every part of the process is a swift-service-lifecycle
/// `Service` in one `ServiceGroup`, which handles SIGTERM and SIGINT (README, "Operations").
///
/// The services, in the order they are listed (they all start at once; start-up work that must
/// come first, opening and migrating the database, is done before the group runs):
///
/// 1. the admin HTTP server (`/livez`, `/readyz`, `/metrics`), when `admin-port` is set; the
///    trace exporter, when `tracing-otlp-endpoint` is set;
/// 2. the database (the pool, and the private PostgreSQL when the server runs its own);
/// 3. the event relay; each context's background work (sweeps, listeners); the database health
///    probe; the event metrics sampler;
/// 4. the RPC server (its start-up work first: the page-token secret, the contexts' keys and
///    bootstrap; then it listens).
///
/// On SIGTERM or SIGINT the group stops them one at a time in the REVERSE order, each once the
/// previous one has finished:
///
/// 1. the RPC server: `/readyz` fails and `HealthService` answers NOT_SERVING at once; the server
///    keeps serving for the grace period (`drain-delay-ms`), so that load balancers stop sending
///    work; then it drains (PROTOCOL.md section 13.1: the listener closes, DRAIN on every
///    connection, calls in flight finish, at most `drain-timeout-ms`);
/// 2. the background work is cancelled between batches (undelivered events wait in the outbox
///    for the next relay, of this process or another);
/// 3. the pool closes, and the private PostgreSQL stops (a fast shutdown);
/// 4. the trace exporter sends the spans still queued (within its request timeout);
/// 5. the admin server closes last: until then `/readyz` answers `not ready: draining`.
///
/// A service that fails (the RPC port or the admin port taken, a context's start-up work
/// throwing) shuts the others down the same way, and the process exits with status 1 after
/// logging `<service> failed: <error>`. A stop that takes longer than the grace period plus the
/// drain timeout plus 30 s is cut short by cancelling every service.
extension KaroKarApplication {
    public func serviceGroupConfiguration(database: Database?, admin: AdminServer?, tracing: ServerTracing? = nil) -> ServiceGroupConfiguration {
        var services: [any Service] = []
        if let admin { services.append(AdminService(admin: admin)) }
        if let tracing { services.append(TraceExportService(exporter: tracing.exporter)) }
        if let database { services.append(DatabaseService(database: database)) }
        services += backgroundWork.map(BackgroundService.init)
        services.append(RPCServerService(application: self))
        var configuration = ServiceGroupConfiguration(
            services: services.map {
                ServiceGroupConfiguration.ServiceConfiguration(
                    service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup
                )
            },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = server.configuration.limits.drainDelay + server.configuration.limits.drainTimeout + .seconds(30)
        configuration.maximumCancellationDuration = .seconds(10)
        return configuration
    }
}

/// A service that failed, with its name: what the process logs before it exits.
public struct ServiceFailure: Error, CustomStringConvertible {
    public let service: String
    public let error: any Error

    public var description: String { "\(service) failed: \(error)" }
}

/// The RPC server: starts, serves until the graceful shutdown, then reports not ready, waits the
/// grace period and drains (``KaroKarApplication/drain()``).
struct RPCServerService: Service, CustomStringConvertible {
    let application: KaroKarApplication
    var description: String { "RPC server" }

    func run() async throws {
        do {
            try await application.start()
        } catch {
            await application.server.close()
            throw ServiceFailure(service: description, error: error)
        }
        do {
            try await gracefulShutdown()
        } catch {
            // Cancelled (the group is being cancelled): no drain, close at once.
            await application.server.close()
            return
        }
        application.logger.info("shutting down: not ready, serving for the grace period, then draining", metadata: [
            "drain-delay-ms": "\(application.server.configuration.limits.drainDelay.wholeMilliseconds)",
        ])
        await application.drain()
    }
}

/// Background work (the relay, a context's sweeps, the health probe, the metrics sampler): runs
/// until the graceful shutdown cancels it. Work that ends by itself (a context with none) waits
/// for the shutdown, so that the group's order holds.
struct BackgroundService: Service, CustomStringConvertible {
    let work: KaroKarApplication.BackgroundWork
    var description: String { work.name }

    func run() async throws {
        let work = self.work
        await cancelWhenGracefulShutdown {
            await work.run()
            try? await gracefulShutdown()
        }
    }
}

/// The database: open before the group runs (and migrated); closed when the group stops it.
struct DatabaseService: Service, CustomStringConvertible {
    let database: Database
    var description: String { database.embedded == nil ? "database pool" : "database pool and private PostgreSQL" }

    func run() async throws {
        try? await gracefulShutdown()
        await database.close()
    }
}

/// The admin HTTP server: listens until the group stops it, last.
struct AdminService: Service, CustomStringConvertible {
    let admin: AdminServer
    var description: String { "admin server" }

    func run() async throws {
        do {
            try await admin.start()
        } catch {
            throw ServiceFailure(service: description, error: error)
        }
        try? await gracefulShutdown()
        await admin.close()
    }
}

extension Duration {
    var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}

import ArgumentParser
import Foundation
import KaroKarRPC
import KaroKarServer
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// `karokar-server`: the KaroKar RPC service.
@main
struct KaroKarServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "karokar-server",
        abstract: "The KaroKar RPC server.",
        discussion: """
            Every setting can be given as a flag, as a KAROKAR_* environment variable, or in a JSON \
            config file (--config FILE, keys named like the flags without the dashes prefix), in that order of precedence:

            \(ServerSettings.specs.map { "  \($0.flag) / \($0.environmentVariable) (default \($0.defaultValue.isEmpty ? "empty" : $0.defaultValue)): \($0.help)" }.joined(separator: "\n"))

            With no database-url, the server runs its own PostgreSQL cluster under data-dir.
            """,
        subcommands: [Serve.self, Migrate.self],
        defaultSubcommand: Serve.self
    )
}

/// Settings shared by every subcommand.
struct SettingsOptions: ParsableArguments {
    @Option(help: "Address to listen on (KAROKAR_HOST).") var host: String?
    @Option(help: "TCP port (KAROKAR_PORT), default 7420.") var port: String?
    @Option(help: "PostgreSQL URI (KAROKAR_DATABASE_URL); empty runs a private cluster.") var databaseURL: String?
    @Option(help: "JSON config file (KAROKAR_CONFIG).") var config: String?
    @Option(help: "Admin HTTP port for /livez, /readyz, /metrics (KAROKAR_ADMIN_PORT), default off.") var adminPort: String?
    @Option(name: .customLong("set"), help: "Any other setting as NAME=VALUE, e.g. --set idle-timeout-ms=60000.")
    var overrides: [String] = []

    func resolve() throws -> (ServerSettings, Logger) {
        var flags: [String: String] = [:]
        if let host { flags["host"] = host }
        if let port { flags["port"] = port }
        if let databaseURL { flags["database-url"] = databaseURL }
        if let adminPort { flags["admin-port"] = adminPort }
        for pair in overrides {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--set expects NAME=VALUE, got \(pair)") }
            flags[parts[0]] = parts[1]
        }
        let environment = ProcessInfo.processInfo.environment
        let settings: ServerSettings
        do {
            settings = try ServerSettings.resolve(
                flags: flags, environment: environment, configFile: config ?? environment["KAROKAR_CONFIG"],
                readFile: { path in try RPCTLS.readFile(path) }
            )
        } catch {
            throw ValidationError("\(error)")
        }
        bootstrapLogging(settings.operations.logFormat)
        var logger = Logger(label: "karokar-server")
        logger.logLevel = Logger.Level(rawValue: settings.logLevel) ?? .info
        return (settings, logger)
    }
}

/// swift-log, bootstrapped once per process: the text format (swift-log's stream handler on
/// standard output, as before) or one JSON object per line.
func bootstrapLogging(_ format: LogFormat) {
    switch format {
    case .text: LoggingSystem.bootstrap(StreamLogHandler.standardOutput)
    case .json: LoggingSystem.bootstrap { label in JSONLogHandler(label: label) }
    }
}

/// Runs the server as one `ServiceGroup` (Sources/KaroKarServer/Lifecycle.swift): until SIGTERM
/// or SIGINT, then not ready, the grace period, the drain, the rest in order. A service that
/// fails stops the others and the process exits with status 1.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve RPCs (the default).")

    @OptionGroup var options: SettingsOptions

    func run() async throws {
        let (settings, logger) = try options.resolve()
        raiseOpenFileLimit(for: settings, logger: logger)
        let tracing = ServerTracing.make(settings, logger: logger)
        let database = try await Database.open(settings, logger: logger, tracer: tracing?.tracer)
        do {
            if settings.migrateOnStart { try await database.migrate(logger: logger) }
        } catch {
            await database.close()
            throw error
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: settings.eventLoopThreads)
        let application = KaroKarApplication(settings: settings, pool: database.pool, group: group, logger: logger)
        let admin = settings.operations.adminPort.map { port in
            AdminServer(host: settings.operations.adminHost, port: port, routes: application.adminRoutes, group: group, logger: logger)
        }
        let services = ServiceGroup(configuration: application.serviceGroupConfiguration(database: database, admin: admin, tracing: tracing))
        do {
            try await services.run()
        } catch {
            logger.critical("stopping: \(error)")
            try? await group.shutdownGracefully()
            throw ExitCode.failure
        }
        try await group.shutdownGracefully()
        logger.info("stopped")
    }
}

/// Every connection takes a descriptor: the soft limit (often 1024) is raised to what
/// max-connections needs, with room for the database and files, as far as the hard limit allows.
func raiseOpenFileLimit(for settings: ServerSettings, logger: Logger) {
    let wanted = settings.limits.maximumConnections + 1_024
    let limit = OpenFileLimit.raise(toAtLeast: wanted)
    if limit < wanted {
        logger.warning("the open file limit is below what max-connections needs", metadata: [
            "limit": "\(limit)", "max-connections": "\(settings.limits.maximumConnections)",
        ])
    }
}

/// Applies pending migrations and exits.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations, then exit.")

    @OptionGroup var options: SettingsOptions

    func run() async throws {
        let (settings, logger) = try options.resolve()
        let database = try await Database.open(settings, logger: logger)
        do {
            let count = try await database.migrate(logger: logger)
            logger.info("migrations done", metadata: ["applied": "\(count)"])
        } catch {
            await database.close()
            throw error
        }
        await database.close()
    }
}

// A separate process for the event platform's crash tests (Tests/KaroKarKernelTests/
// EventProcessTests.swift): it publishes events or relays them to two probe consumers, and can
// kill itself with SIGKILL at the moments the tests are about.
//
//   karokar-events-probe migrate CONNINFO
//   karokar-events-probe publish CONNINFO COUNT AGGREGATES [--kill-after-commit]
//   karokar-events-probe relay CONNINFO [--kill-in-handler VERSION MARKER_FILE] [--lease-ms N] [--effects N]
//
// `relay` runs until no delivery is left and at least N effects exist (default 0), exit 0, or
// until 120 s pass, exit 1.
import Foundation
import Glibc
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import Logging

let probeMigration = Migration(context: "probe", version: 1, name: "effects", sql: """
    -- One row per handler run that committed: a duplicate effect would show as a second row.
    CREATE TABLE probe.effect (
        id bigserial PRIMARY KEY,
        consumer text NOT NULL,
        event_id uuid NOT NULL,
        aggregate_id text NOT NULL,
        aggregate_version bigint NOT NULL,
        pid int NOT NULL
    );
    """)

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("karokar-events-probe: \(message)\n".utf8))
    exit(2)
}

func pool(_ conninfo: String) -> PostgresPool {
    var configuration = PostgresPool.Configuration(connectionString: conninfo)
    configuration.maximumConnections = 4
    return PostgresPool(configuration: configuration)
}

/// `count` events spread over `aggregates` vehicles, versions 1, 2, ... per vehicle, one
/// transaction each; prints the last committed event id.
func publish(_ bus: EventBus, count: Int, aggregates: Int, killAfterCommit: Bool) async throws {
    let run = UUID().uuidString.prefix(8).lowercased()
    var last = ""
    for index in 0..<count {
        let vehicle = "\(run)-\(index % aggregates)"
        let draft = EventDraft(
            "vehicle.registered", aggregateType: "vehicle", aggregateID: vehicle, aggregateVersion: Int64(index / aggregates + 1),
            payload: .vehicleRegistered(EventsV1.VehicleRegistered(vehicleId: vehicle, make: "Probe", model: "\(index)"))
        )
        last = try await bus.transaction(.system()) { try await $0.publish(draft).eventId }
    }
    FileHandle.standardOutput.write(Data((last + "\n").utf8))
    if killAfterCommit {
        FileHandle.standardOutput.synchronizeFile()
        kill(getpid(), SIGKILL)
    }
}

/// Two consumers whose effect is a row in probe.effect, written in the delivery's transaction.
func subscribe(_ bus: EventBus, killAt: (version: Int64, marker: String)?) {
    for consumer in ["probe_a", "probe_b"] {
        bus.consume("vehicle.*", as: consumer) { event, work in
            try await work.query("""
                INSERT INTO probe.effect (consumer, event_id, aggregate_id, aggregate_version, pid)
                VALUES (\(consumer), \(event.eventId)::uuid, \(event.aggregateId), \(event.aggregateVersion), \(Int(getpid())))
                """)
            // Once (the marker file remembers it across restarts): die mid-handling, with the
            // effect written but not committed.
            if let killAt, consumer == "probe_a", event.aggregateVersion == killAt.version,
               !FileManager.default.fileExists(atPath: killAt.marker) {
                _ = FileManager.default.createFile(atPath: killAt.marker, contents: nil)
                kill(getpid(), SIGKILL)
            }
        }
    }
}

func relay(_ bus: EventBus, lease: Duration, effects: Int) async throws {
    var options = EventRelay.Options()
    options.lease = lease
    var logger = Logger(label: "probe")
    logger.logLevel = .warning
    let relay = EventRelay(bus: bus, options: options, logger: logger)
    let started = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await relay.run() }
        while ContinuousClock.now - started < .seconds(120) {
            try await Task.sleep(for: .milliseconds(200))
            let row = try await bus.pool.query("""
                SELECT (SELECT count(*) FROM karokar_events.delivery)::int AS left, (SELECT count(*) FROM probe.effect)::int AS done
                """).single()
            if try row.decode(Int.self, "left") == 0, try row.decode(Int.self, "done") >= effects {
                group.cancelAll()
                return
            }
        }
        fail("deliveries left after 120 s")
    }
}

let arguments = CommandLine.arguments
guard arguments.count >= 3 else { fail("usage: see the comment at the top of main.swift") }
let database = pool(arguments[2])
let bus = EventBus(pool: database)
do {
    switch arguments[1] {
    case "migrate":
        try await MigrationRunner.migrate(KernelMigrations.platform + [probeMigration], pool: database)
    case "publish":
        guard arguments.count >= 5, let count = Int(arguments[3]), let aggregates = Int(arguments[4]) else { fail("publish CONNINFO COUNT AGGREGATES") }
        subscribe(bus, killAt: nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await bus.runNotifier() }  // wakes the relays of other processes
            try await publish(bus, count: count, aggregates: aggregates, killAfterCommit: arguments.contains("--kill-after-commit"))
            try await Task.sleep(for: .milliseconds(100))  // the last NOTIFY goes out
            group.cancelAll()
        }
    case "relay":
        var killAt: (Int64, String)?
        if let flag = arguments.firstIndex(of: "--kill-in-handler"), arguments.count > flag + 2, let version = Int64(arguments[flag + 1]) {
            killAt = (version, arguments[flag + 2])
        }
        var lease = Duration.seconds(30)
        if let flag = arguments.firstIndex(of: "--lease-ms"), arguments.count > flag + 1, let ms = Int(arguments[flag + 1]) {
            lease = .milliseconds(ms)
        }
        var effects = 0
        if let flag = arguments.firstIndex(of: "--effects"), arguments.count > flag + 1, let n = Int(arguments[flag + 1]) {
            effects = n
        }
        subscribe(bus, killAt: killAt)
        try await relay(bus, lease: lease, effects: effects)
    default:
        fail("unknown mode \(arguments[1])")
    }
} catch {
    fail("\(error)")
}
await database.close()

import Foundation
import Synchronization
@testable import KaroKarPostgres
import KaroKarTestSupport
import Testing

/// The poller's loops resume each query where its socket was armed (``SocketPoller``). These
/// statements make libpq wait many times per result, and from tasks that move between threads:
/// results far larger than libpq's buffer, pipelines whose later results arrive with the earlier
/// ones, notices in the stream, and a request larger than the socket buffer (the output wait).
@Suite("socket poller: every byte read, no wake-up lost", .timeLimit(.minutes(2)))
struct SocketPollerTests {
    /// About 3 MB of rows: many reads per result, most of them leaving bytes in the socket.
    static let bigSelect: SQL = "SELECT i, repeat('x', 100) AS filler FROM generate_series(1, \(Int32(30_000))) AS i"

    @Test("large results, pipelined results, notices and a large request, from tasks on the pool's threads and off them")
    func everyByteArrives() async throws {
        let (pool, _) = try await TestDatabase.fresh(maximumConnections: 4)
        try await pool.query("""
            CREATE FUNCTION noisy(n int) RETURNS int LANGUAGE plpgsql AS $$
            BEGIN FOR i IN 1..n LOOP RAISE NOTICE '%', repeat('n', 200); END LOOP; RETURN n; END $$
            """)
        try await withThrowingTaskGroup(of: Void.self) { group in
            // As many tasks as connections: none waits for one (on a loaded CI machine a queue
            // behind these large statements outlasted the pool's 5 s acquire timeout).
            for task in 0..<4 {
                group.addTask(executorPreference: task.isMultiple(of: 2) ? pool.executor : nil) {
                    try await Self.exercise(pool, seed: task)
                }
            }
            try await group.waitForAll()
        }
        #expect(pool.metrics.inUse == 0)
        #expect(pool.metrics.connectionsClosed == 0, "no connection broke")
        await pool.close()
    }

    private static func exercise(_ pool: PostgresPool, seed: Int) async throws {
        let rows = try await pool.query(bigSelect)
        #expect(rows.count == 30_000)
        #expect(try rows[29_999].decode(Int32.self, "i") == 30_000)

        // BEGIN, two large queued results and the last statement travel in one pipeline: the last
        // results are in the socket before the first ones are read.
        let last = try await pool.transaction { session in
            session.enqueue(bigSelect)
            session.enqueue(bigSelect)
            return try await session.query("SELECT \(Int64(seed)) + 1 AS n").single().decode(Int64.self, "n")
        }
        #expect(last == Int64(seed) + 1)

        // Two thousand notices ahead of the result.
        let noisy = try await pool.query("SELECT noisy(\(Int32(2_000))) AS n").single().decode(Int32.self, "n")
        #expect(noisy == 2_000)

        // A 4 MB parameter: more than the socket takes at once, so the send waits for room.
        let big = String(repeating: "abcdefgh", count: 512 * 1024)
        let length = try await pool.query("SELECT length(\(big)::text) AS n").single().decode(Int32.self, "n")
        #expect(length == Int32(big.utf8.count))
    }

    @Test("one loop or several: every query answered, from tasks on the pool's threads and off them", arguments: [1, 3])
    func loops(threads: Int) async throws {
        let (template, _) = try await TestDatabase.fresh(maximumConnections: 1)
        var configuration = template.configuration
        await template.close()
        configuration.maximumConnections = 6
        configuration.ioThreads = threads
        let pool = PostgresPool(configuration: configuration)
        #expect(pool.poller.threadCount == threads)
        let sums = try await withThrowingTaskGroup(of: Int64.self) { group in
            for task in 0..<12 {
                group.addTask(executorPreference: task.isMultiple(of: 3) ? nil : pool.executor) {
                    var sum: Int64 = 0
                    for value in 0..<200 {
                        sum += try await pool.query("SELECT \(Int64(value)) * 2 AS n").single().decode(Int64.self, "n")
                    }
                    return sum
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(sums == Array(repeating: 39_800, count: 12))
        #expect(pool.metrics.connectionsClosed == 0)
        await pool.close()
    }

    /// A closed pool's poller keeps its descriptors until nothing can reach them, and a task that
    /// prefers its executor still runs. Before, the loop thread closed its eventfd on stopping; a
    /// later job's wake-up then wrote 01 00 00 00 00 00 00 00 into whatever reused the number (in
    /// a test run, another pool's PostgreSQL socket: "invalid frontend message type 1"), and the
    /// job itself never ran.
    @Test("after close: no wake-up lands in a reused descriptor, and tasks preferring the executor still run")
    func afterClose() async throws {
        let (pool, _) = try await TestDatabase.fresh(maximumConnections: 2)
        _ = try await pool.query("SELECT 1 AS n")
        let executor = pool.executor
        await pool.close()
        try await Task.sleep(for: .milliseconds(200))  // the loop threads have ended
        // Socket pairs take the lowest free numbers, the ones a closed eventfd would have left:
        // a byte written into either end is readable at the other.
        var pairs: [(Int32, Int32)] = []
        for _ in 0..<32 {
            var fds: [Int32] = [0, 0]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds) == 0)
            pairs.append((fds[0], fds[1]))
        }
        defer { for (a, b) in pairs { close(a); close(b) } }
        let ran = Counter()
        for _ in 0..<20 {
            Task(executorPreference: executor) { ran.increment() }
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while ran.value < 20, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(ran.value == 20, "every task preferring the closed pool's executor ran")
        var buffer = [UInt8](repeating: 0, count: 64)
        for (a, b) in pairs {
            #expect(read(a, &buffer, buffer.count) <= 0 && read(b, &buffer, buffer.count) <= 0, "no stray bytes in a reused descriptor")
        }
    }
}

/// A thread-safe count for the tests.
final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

/// A statement still running when its pool closes waits for its reply on poll(2), not by asking
/// again at once: before, each wait after the poller's shutdown returned immediately, and the
/// caller spun a core (hundreds of thousands of waits) until the reply came.
@Suite("socket poller after shutdown", .timeLimit(.minutes(1)))
struct SocketPollerShutdownTests {
    @Test("a statement running across the pool's close completes without spinning")
    func runningStatementDoesNotSpin() async throws {
        let (pool, connectionString) = try await TestDatabase.fresh(maximumConnections: 1)
        let running = Task { try await pool.query("SELECT pg_sleep(1.5) IS NULL AS slept").single().decode(Bool.self, "slept") }
        // The statement is on the server (seen from another pool) before the close: a fixed sleep
        // was not always enough on a busy machine (the connection was still being opened, the
        // close failed the statement at once, and nothing waited after the shutdown).
        let observer = PostgresPool(configuration: .init(connectionString: connectionString))
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let seen = try await observer.query(
                "SELECT count(*)::int8 AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(1.5)%' AND state = 'active'"
            ).single().decode(Int64.self, "n")
            if seen > 0 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        await observer.close()
        await pool.close()
        // Closing hands back no connection in use: the statement finishes (or fails) on its own.
        let outcome = await running.result
        let waits = pool.poller.waitsAfterShutdown.load(ordering: .relaxed)
        #expect(waits >= 1, "the statement waited after the shutdown (else the test shows nothing)")
        #expect(waits <= 30, "about one wait per reply or per 100 ms, not a spin: \(waits)")
        if case .success(let slept) = outcome { #expect(slept == false) }
    }
}

import Foundation
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import Testing

@Suite("karokar-server: signals, readiness and exit status")
struct ServerProcessTests {
    static func adminPort(in log: String) -> Int? {
        guard let line = log.split(separator: "\n").first(where: { $0.contains("admin server listening") }),
              let range = line.range(of: "admin-address=") else { return nil }
        let rest = line[range.upperBound...].prefix { !$0.isWhitespace }
        return rest.split(separator: ":").last.flatMap { Int($0.prefix { $0.isNumber }) }
    }

    @Test("SIGTERM: /readyz fails at once, calls are served through the grace period, then the process drains and exits 0")
    func sigterm() async throws {
        let (pool, url) = try await TestDatabase.fresh()
        _ = try await MigrationRunner.migrate(Database.migrations, pool: pool)
        let server = try await ServerProcess.start(databaseURL: url, arguments: ["--admin-port", "0", "--set", "drain-delay-ms=2000"])
        var port: Int?
        _ = try await eventually { port = Self.adminPort(in: server.log); return port != nil }
        let admin = try #require(port, "\(server.log.suffix(2000))")
        #expect(try await eventually { try await HTTP.get(port: admin, "/readyz").status == 200 })
        let client = server.client()
        let echo = RPCV1.DiagnosticsService.Client(client)
        _ = try await echo.echo(.init(payload: [1]))

        server.terminate()
        #expect(try await eventually { (try? await HTTP.get(port: admin, "/readyz").status) == 503 })
        #expect(try await echo.echo(.init(payload: [2])).payload == [2], "served during the grace period")
        #expect(try await eventually(timeout: .seconds(30)) { !server.isRunning })
        #expect(server.exitStatus == 0, "\(server.log.suffix(2000))")
        #expect(server.log.contains("stopped"))
        await client.close()
        await pool.close()
    }

    @Test("event-loop-threads sets how many SwiftNIO event loop threads the process runs")
    func eventLoopThreads() async throws {
        let (pool, url) = try await TestDatabase.fresh()
        _ = try await MigrationRunner.migrate(Database.migrations, pool: pool)
        // SwiftNIO names its event loops' threads NIO-ELT-<group>-#<n>; other groups of the
        // process (timers, clients) count the same in both, so the difference is the setting's.
        func eventLoopThreads(_ setting: Int) async throws -> Int {
            let server = try await ServerProcess.start(databaseURL: url, environment: ["KAROKAR_EVENT_LOOP_THREADS": "\(setting)"])
            let loops: Int
            do {
                let client = server.client()
                _ = try await RPCV1.DiagnosticsService.Client(client).echo(.init(payload: [1]))
                await client.close()
                let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(server.pid)/task")
                let names = tasks.compactMap { try? String(contentsOfFile: "/proc/\(server.pid)/task/\($0)/comm", encoding: .utf8) }
                loops = names.filter { $0.hasPrefix("NIO-ELT-") }.count
            } catch {
                await server.stop()
                throw error
            }
            await server.stop()
            return loops
        }
        let one = try await eventLoopThreads(1)
        let four = try await eventLoopThreads(4)
        #expect(four - one == 3, "1 setting: \(one) NIO-ELT threads, 4: \(four)")
        await pool.close()
    }

    @Test("a service that cannot start stops the process with status 1 and says which")
    func failingService() async throws {
        let (pool, url) = try await TestDatabase.fresh()
        _ = try await MigrationRunner.migrate(Database.migrations, pool: pool)
        let blocker = try await ServerProcess.start(databaseURL: url, arguments: ["--admin-port", "0"])
        var port: Int?
        _ = try await eventually { port = Self.adminPort(in: blocker.log); return port != nil }
        let taken = try #require(port)
        do {
            // It may listen on its RPC port for a moment (the services start together) ...
            let server = try await ServerProcess.start(databaseURL: url, arguments: ["--admin-port", "\(taken)"])
            #expect(try await eventually(timeout: .seconds(30)) { !server.isRunning })
            #expect(server.exitStatus == 1)
            #expect(server.log.contains("admin server failed"), "\(server.log.suffix(2000))")
        } catch let failure as ServerProcess.Failure {
            // ... or exit before it does.
            #expect(failure.description.contains("admin server failed"), "\(failure)")
        }
        await blocker.stop()
        await pool.close()
    }
}

public import Foundation
public import KaroKarRPC
import NIOPosix

/// A real `karokar-server` process (the binary the build puts next to the test bundle) on a test
/// database, with the test identity settings: for tests about several server processes sharing
/// one database. Stopped with SIGTERM (graceful drain) by ``stop()``.
public final class ServerProcess: @unchecked Sendable {
    private let process: Process
    private let output = LockedStrings()
    public private(set) var port = 0
    /// The process's id (its threads are under `/proc/PID/task`).
    public var pid: Int32 { process.processIdentifier }

    /// Starts one and waits (at most 60 s) until it listens; `environment` adds `KAROKAR_*` settings,
    /// `arguments` go after the usual ones (e.g. `--admin-port 0`).
    public static func start(databaseURL: String, environment: [String: String] = [:], arguments: [String] = []) async throws -> ServerProcess {
        let server = ServerProcess()
        try server.launch(databaseURL: databaseURL, extra: environment, arguments: arguments)
        try await server.waitUntilListening()
        return server
    }

    private init() {
        process = Process()
    }

    public static var executable: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("karokar-server")
    }

    private func launch(databaseURL: String, extra: [String: String], arguments: [String]) throws {
        process.executableURL = Self.executable
        process.arguments = ["--port", "0", "--database-url", databaseURL] + arguments
        var environment = ProcessInfo.processInfo.environment.merging(TestIdentity.environment) { $1 }
        // Every suite runs at once on the test cluster: waiting is not what these tests measure.
        environment["KAROKAR_DATABASE_ACQUIRE_TIMEOUT_MS"] = "30000"
        environment["KAROKAR_FLEET_DOCUMENT_SWEEP_INTERVAL_S"] = "0"
        environment["KAROKAR_BOOKING_EXPIRY_SWEEP_INTERVAL_S"] = "0"
        environment["KAROKAR_VERIFICATION_EXPIRY_SWEEP_INTERVAL_S"] = "0"
        environment.merge(extra) { $1 }
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let output = self.output
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { output.append(String(decoding: data, as: UTF8.self)) }
        }
        try process.run()
    }

    private func waitUntilListening() async throws {
        let started = ContinuousClock.now
        while ContinuousClock.now - started < .seconds(60) {
            let text = output.all.joined()
            if let line = text.split(separator: "\n").first(where: { $0.contains("listening") && !$0.contains("admin server") }), let port = Self.port(in: String(line)) {
                self.port = port
                return
            }
            guard ChildExit.isRunning(process) else { throw Failure(description: "karokar-server exited: \(text.suffix(3000))") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure(description: "karokar-server did not listen within 60 s: \(output.all.joined().suffix(3000))")
    }

    /// The port of `address=[IPv4]127.0.0.1/127.0.0.1:7420` in a log line.
    static func port(in line: String) -> Int? {
        guard let address = line.range(of: "address=") else { return nil }
        let rest = line[address.upperBound...].prefix { !$0.isWhitespace }
        guard let colon = rest.lastIndex(of: ":") else { return nil }
        return Int(rest[rest.index(after: colon)...].prefix { $0.isNumber })
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public func client() -> RPCClient {
        RPCClient(configuration: .init(host: "127.0.0.1", port: port), group: MultiThreadedEventLoopGroup.singleton)
    }

    /// SIGTERM, then waits for the exit (the server drains first).
    public func stop() async {
        guard ChildExit.isRunning(process) else { return }
        process.terminate()
        if await ChildExit.wait(process, timeout: .seconds(30)) == nil {
            kill(process.processIdentifier, SIGKILL)
            await ChildExit.wait(process, timeout: .seconds(30))
        }
    }

    /// SIGKILL: the process dies at once, wherever it is (no drain), and this waits for its exit.
    public func killNow() async {
        guard ChildExit.isRunning(process) else { return }
        kill(process.processIdentifier, SIGKILL)
        await ChildExit.wait(process, timeout: .seconds(30))
    }

    public var log: String { output.all.joined() }

    /// False once the process has exited (or crashed).
    public var isRunning: Bool { ChildExit.isRunning(process) }

    /// The exit status, once it has exited.
    public var exitStatus: Int32? { ChildExit.status(of: process) }

    /// SIGTERM without waiting: for tests that watch the drain.
    public func terminate() {
        if ChildExit.isRunning(process) { process.terminate() }
    }
}

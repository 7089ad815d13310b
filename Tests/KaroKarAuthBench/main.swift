import Foundation
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import NIOPosix

// karokar-auth-bench: what authentication and authorization add to a call (issue 4's target:
// an authenticated, authorized read at most 15% dearer than an unauthenticated ping at 64 calls
// in flight). Logs in, then alternates closed-loop phases of DiagnosticsService/Echo (public, no
// token), the same Echo with the token (the interceptor's whole work: verification, principal,
// access rule) and IdentityService/WhoAmI (with the token, a larger answer), and reports calls
// per second and, given the server's pid, the server's CPU time per call. Run it against a release `karokar-server`:
//
//   swift build -c release --product karokar-server --product karokar-auth-bench
//   KAROKAR_BOOTSTRAP_ADMIN_PASSWORD='bench admin passphrase' .build/release/karokar-server --set data-dir=/tmp/kk-bench &
//   .build/release/karokar-auth-bench --server-pid $! --password 'bench admin passphrase'

struct Options {
    var host = "127.0.0.1"
    var port = 7420
    var email = "admin@karokar.local"
    var password = ""
    var concurrency = 64
    var seconds = 5.0
    var rounds = 3
    var serverPID: Int32?
    /// A fixed number of calls per phase instead of `seconds` (for instruction counts under callgrind).
    var calls: Int?
    /// Only this phase (echo, echo+token or whoami).
    var only: String?
    var warmup = 2.0

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let flag = iterator.next(), let value = iterator.next() {
            switch flag {
            case "--host": host = value
            case "--port": port = Int(value) ?? port
            case "--email": email = value
            case "--password": password = value
            case "--concurrency": concurrency = Int(value) ?? concurrency
            case "--seconds": seconds = Double(value) ?? seconds
            case "--rounds": rounds = Int(value) ?? rounds
            case "--server-pid": serverPID = Int32(value)
            case "--calls": calls = Int(value)
            case "--only": only = value
            case "--warmup": warmup = Double(value) ?? warmup
            default: FileHandle.standardError.write(Data("unknown option \(flag)\n".utf8))
            }
        }
    }
}

func serverCPU(_ pid: Int32?) -> Double? {
    guard let pid, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Calls completed in `seconds` (or exactly `limit` calls) with `concurrency` in flight;
/// failures end the run.
func phase(
    _ client: RPCClient, path: String, payload: [UInt8], options: CallOptions, concurrency: Int, seconds: Double, limit: Int? = nil
) async throws -> Int {
    let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    return try await withThrowingTaskGroup(of: Int.self) { group in
        for worker in 0..<concurrency {
            let share = limit.map { $0 / concurrency + (worker < $0 % concurrency ? 1 : 0) }
            group.addTask {
                var calls = 0
                while share.map({ calls < $0 }) ?? (ContinuousClock.now < end) {
                    _ = try await client.call(path: path, payload: payload, options: options)
                    calls += 1
                }
                return calls
            }
        }
        return try await group.reduce(0, +)
    }
}

let options = Options(CommandLine.arguments)
let client = RPCClient(configuration: .init(host: options.host, port: options.port), group: MultiThreadedEventLoopGroup.singleton)
let login = try await IdentityV1.IdentityService.Client(client).login(IdentityV1.LoginRequest(email: options.email, password: options.password))
let authorized = CallOptions(metadata: Metadata([("authorization", "Bearer \(login.grant!.accessToken)")]))
let echo = (path: "/karokar.rpc.v1.DiagnosticsService/Echo", payload: [UInt8](), options: CallOptions())
let echoWithToken = (path: echo.path, payload: echo.payload, options: authorized)
let whoAmI = (path: "/karokar.identity.v1.IdentityService/WhoAmI", payload: [UInt8](), options: authorized)
let targets = [("echo", echo), ("echo+token", echoWithToken), ("whoami", whoAmI)].filter { options.only == nil || $0.0 == options.only }
print("warming up")
for (_, target) in targets where options.warmup > 0 {
    _ = try await phase(client, path: target.path, payload: target.payload, options: target.options, concurrency: options.concurrency, seconds: options.warmup)
}
if options.calls != nil {
    print("measuring in 2 s")  // time to zero an instruction counter (callgrind_control -z)
    try await Task.sleep(for: .seconds(2))
}
var totals: [String: (calls: Int, seconds: Double, cpu: Double)] = [:]
for round in 1...options.rounds {
    for (name, target) in targets {
        let cpuBefore = serverCPU(options.serverPID)
        let started = ContinuousClock.now
        let calls = try await phase(
            client, path: target.path, payload: target.payload, options: target.options, concurrency: options.concurrency,
            seconds: options.seconds, limit: options.calls
        )
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let cpu = (serverCPU(options.serverPID) ?? 0) - (cpuBefore ?? 0)
        let rate = Double(calls) / seconds
        print("round \(round) \(name): \(Int(rate)) calls/s" + (cpuBefore == nil ? "" : String(format: ", server %.1f µs CPU/call", cpu / Double(calls) * 1e6)))
        let total = totals[name] ?? (0, 0, 0)
        totals[name] = (total.calls + calls, total.seconds + seconds, total.cpu + cpu)
    }
}
for name in ["echo+token", "whoami"] {
    guard let base = totals["echo"], let total = totals[name] else { continue }
    let slower = (base.seconds / Double(base.calls)) / (total.seconds / Double(total.calls))
    var line = String(format: "%@: %.0f calls/s vs echo %.0f: %.1f%% more time per call", name, Double(total.calls) / total.seconds, Double(base.calls) / base.seconds, (1 / slower - 1) * 100)
    if options.serverPID != nil {
        let mine = total.cpu / Double(total.calls)
        let echoCPU = base.cpu / Double(base.calls)
        line += String(format: "; server CPU %.1f µs vs %.1f µs per call: %.1f%% more", mine * 1e6, echoCPU * 1e6, (mine / echoCPU - 1) * 100)
    }
    print(line)
}
await client.close()

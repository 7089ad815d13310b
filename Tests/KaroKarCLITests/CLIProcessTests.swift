import Foundation
import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import KaroKarToolSupport
import Logging
import NIOCore
import Testing

extension ToolProcesses {
    /// The built `karokar` binary against a real server: output, error text and exit statuses.
    @Suite("karokar CLI against a live server")
    struct CLIProcessTests {
        /// Runs `karokar` with `--address` of `server` and a private config directory.
        private func karokar(_ arguments: [String], server: TestServer, config: ScratchDirectory, stdin: String? = nil) async throws -> ToolProcess.Outcome {
            try await ToolProcess.run("karokar", arguments + ["--address", "127.0.0.1:\(server.port)"], environment: ["XDG_CONFIG_HOME": config.path], stdin: stdin)
        }

        @Test func listAndDescribe() async throws {
            let server = try await TestServer.start()
            let config = try ScratchDirectory()
            defer { config.remove() }
            let list = try await karokar(["list"], server: server, config: config)
            #expect(list.status == 0)
            #expect(list.stdout.contains("karokar.rpc.v1.HealthService\n  Check(karokar.rpc.v1.CheckRequest) returns (karokar.rpc.v1.CheckResponse)  [public]"))
            let json = try await karokar(["list", "karokar.rpc.v1.DiagnosticsService", "--json"], server: server, config: config)
            let listing = try RPCV1.ListServicesResponse(protoJSON: JSONParser.parse(json.stdout))
            #expect(listing.services.map(\.name) == ["karokar.rpc.v1.DiagnosticsService"])

            let describe = try await karokar(["describe", "karokar.rpc.v1.ReflectionService/DescribeType"], server: server, config: config)
            #expect(describe.status == 0)
            for expected in ["request:  karokar.rpc.v1.DescribeTypeRequest", "oneof type {", "    karokar.rpc.v1.EnumTypeInfo enum = 2;",
                             "message karokar.rpc.v1.FieldInfo {", "  string json_name = 2;  // JSON: jsonName"] {
                #expect(describe.stdout.contains(expected), "\(expected)")
            }
            let enumeration = try await karokar(["describe", "karokar.rpc.v1.ServingStatus"], server: server, config: config)
            #expect(enumeration.stdout.contains("enum karokar.rpc.v1.ServingStatus {\n  SERVING_STATUS_UNSPECIFIED = 0;"))
            let map = try await karokar(["describe", "karokar.common.v1.ErrorDetails"], server: server, config: config)
            #expect(map.stdout.contains("map<string, string> metadata = 4;"))
            await server.stop()
        }

        @Test func callTakesJSONFromArgumentFileOrStdin() async throws {
            let server = try await TestServer.start()
            let config = try ScratchDirectory()
            defer { config.remove() }
            let echo = "karokar.rpc.v1.DiagnosticsService/Echo"
            let argument = try await karokar(["call", echo, #"{"payload": "aGVsbG8="}"#], server: server, config: config)
            #expect(argument.status == 0)
            #expect(try JSONParser.parse(argument.stdout) == .object([JSONMember("payload", .string("aGVsbG8="))]))
            let file = config.path + "/request.json"
            try #"{"service": "karokar.rpc.v1.DiagnosticsService"}"#.write(toFile: file, atomically: true, encoding: .utf8)
            let fromFile = try await karokar(["call", "karokar.rpc.v1.HealthService/Check", "@" + file, "--compact"], server: server, config: config)
            #expect(fromFile.stdout == #"{"status":"SERVING_STATUS_SERVING"}"# + "\n")
            let fromStdin = try await karokar(["call", echo, "-"], server: server, config: config, stdin: #"{"payload": "AAE="}"#)
            #expect(fromStdin.status == 0 && fromStdin.stdout.contains("AAE="))
            let empty = try await karokar(["call", "karokar.rpc.v1.HealthService/Check"], server: server, config: config)
            #expect(empty.stdout.contains("SERVING_STATUS_SERVING"))
            await server.stop()
        }

        @Test func exitStatusFollowsTheCallsStatus() async throws {
            let server = try await TestServer.start()
            let config = try ScratchDirectory()
            defer { config.remove() }
            let notFound = try await karokar(["call", "karokar.rpc.v1.ReflectionService/DescribeType", #"{"name": "no.Such"}"#], server: server, config: config)
            #expect(notFound.status == 64 + 5)
            #expect(notFound.stderr.contains("NOT_FOUND (code 5)") && notFound.stderr.contains("domain code: TYPE_NOT_FOUND"))
            #expect(notFound.stdout.isEmpty)
            let unhosted = try await karokar(["call", "karokar.fleet.v1.FleetService/GetVehicle"], server: server, config: config)
            #expect(unhosted.status == 64 + 12 && unhosted.stderr.contains("UNKNOWN_METHOD"))
            let tooShort = try await karokar(["call", "karokar.rpc.v1.DiagnosticsService/Echo", "--timeout", "1ns"], server: server, config: config)
            #expect([0, 64 + 4].contains(tooShort.status), "either fast enough or DEADLINE_EXCEEDED, never anything else")
            await server.stop()
            let refused = try await karokar(["call", "karokar.rpc.v1.HealthService/Check"], server: server, config: config)
            #expect(refused.status == 64 + 14 && refused.stderr.contains("UNAVAILABLE"))
        }

        @Test func localMistakesExitOneAndUsageErrorsSixtyFour() async throws {
            let server = try await TestServer.start()
            let config = try ScratchDirectory()
            defer { config.remove() }
            let cases: [([String], Int32, String)] = [
                (["call", "karokar.rpc.v1.DiagnosticsService/Echo", "{"], 1, "invalid JSON"),
                (["call", "karokar.rpc.v1.DiagnosticsService/Echo", #"{"payload": 1}"#], 1, "payload: expects base64 text"),
                (["call", "karokar.rpc.v1.DiagnosticsService/Nope"], 1, "has no method Nope"),
                (["call", "karokar.rpc.v1.DiagnosticsService/Echo", "@/no/such/file"], 1, "no such file"),
                (["call", "karokar.rpc.v1.DiagnosticsService/Echo", "-H", "Bad Key: x"], 1, "metadata key"),
                (["call", "karokar.rpc.v1.DiagnosticsService/Echo", "--timeout", "soon"], 1, "not a duration"),
                (["describe", "no.such.Type"], 64 + 5, "TYPE_NOT_FOUND"),
                (["call"], 64, "Missing expected argument"),
                (["frobnicate"], 64, "Usage: karokar <subcommand>"),
            ]
            for (arguments, status, message) in cases {
                let outcome = try await karokar(arguments, server: server, config: config)
                #expect(outcome.status == status, "\(arguments)")
                #expect(outcome.stderr.contains(message), "\(arguments): \(outcome.stderr)")
            }
            await server.stop()
        }

        @Test func completionScript() async throws {
            let bash = try await ToolProcess.run("karokar", ["--generate-completion-script", "bash"])
            #expect(bash.status == 0 && bash.stdout.contains("_karokar()") && bash.stdout.contains("describe"))
        }
    }
}

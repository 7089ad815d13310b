import Foundation
import KaroKarServer
import Testing

@Suite("Operations settings: admin server, logs, probes")
struct OperationsSettingsTests {
    static func resolve(
        flags: [String: String] = [:], environment: [String: String] = [:], file: String? = nil
    ) throws -> ServerSettings {
        try ServerSettings.resolve(flags: flags, environment: environment, configFile: file == nil ? nil : "ops.json") { _ in
            Array((file ?? "").utf8)
        }
    }

    static func error(flags: [String: String] = [:], environment: [String: String] = [:], file: String? = nil) -> String {
        do {
            _ = try resolve(flags: flags, environment: environment, file: file)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test("defaults: no admin server, loopback when on, text logs, no access log, 1 s probe, 10 s sampling")
    func defaults() throws {
        let operations = try Self.resolve().operations
        #expect(operations.adminPort == nil)
        #expect(operations.adminHost == "127.0.0.1")
        #expect(operations.metrics)
        #expect(!operations.measures, "no admin server: nothing measured")
        #expect(operations.logFormat == .text)
        #expect(!operations.accessLog)
        #expect(operations.healthCheckInterval == .seconds(1))
        #expect(operations.metricsSampleInterval == .seconds(10))
    }

    @Test("event-loop-threads: the machine's cores by default, 1 to 256 from any source, anything else refused by name")
    func eventLoopThreads() throws {
        #expect(try Self.resolve().eventLoopThreads == ProcessInfo.processInfo.activeProcessorCount)
        #expect(try Self.resolve(flags: ["event-loop-threads": "1"]).eventLoopThreads == 1)
        #expect(try Self.resolve(environment: ["KAROKAR_EVENT_LOOP_THREADS": "256"]).eventLoopThreads == 256)
        #expect(try Self.resolve(file: #"{"event-loop-threads": 3}"#).eventLoopThreads == 3)
        for bad in ["0", "257", "-1", "two", ""] {
            #expect(Self.error(environment: ["KAROKAR_EVENT_LOOP_THREADS": bad]).contains("KAROKAR_EVENT_LOOP_THREADS"), "\(bad)")
        }
    }

    @Test("every setting from a flag")
    func flags() throws {
        let operations = try Self.resolve(flags: [
            "admin-host": "0.0.0.0", "admin-port": "9090", "metrics": "false", "log-format": "json", "access-log": "true",
            "health-check-interval-ms": "250", "metrics-sample-interval-ms": "500",
        ]).operations
        #expect(operations.adminHost == "0.0.0.0")
        #expect(operations.adminPort == 9090)
        #expect(!operations.metrics)
        #expect(!operations.measures)
        #expect(operations.logFormat == .json)
        #expect(operations.accessLog)
        #expect(operations.healthCheckInterval == .milliseconds(250))
        #expect(operations.metricsSampleInterval == .milliseconds(500))
        #expect(try Self.resolve(flags: ["admin-port": "0"]).operations.adminPort == 0, "0: any free port")
        #expect(try Self.resolve(flags: ["admin-port": "0"]).operations.measures)
    }

    @Test("precedence: flag over environment over file over default")
    func precedence() throws {
        let file = #"{"admin-port": 9001, "log-format": "json", "access-log": true}"#
        let environment = ["KAROKAR_ADMIN_PORT": "9002", "KAROKAR_LOG_FORMAT": "text"]
        #expect(try Self.resolve(file: file).operations.adminPort == 9001)
        #expect(try Self.resolve(file: file).operations.accessLog)
        #expect(try Self.resolve(environment: environment, file: file).operations.adminPort == 9002)
        #expect(try Self.resolve(environment: environment, file: file).operations.logFormat == .text)
        #expect(try Self.resolve(flags: ["admin-port": "off"], environment: environment, file: file).operations.adminPort == nil)
    }

    @Test("bad values are refused with the source and what is expected")
    func errors() {
        #expect(Self.error(flags: ["admin-port": "http"]) == #"--admin-port: "http" is not off or a port in 0...65535"#)
        #expect(Self.error(flags: ["admin-port": "65536"]) == #"--admin-port: "65536" is not off or a port in 0...65535"#)
        #expect(Self.error(environment: ["KAROKAR_ADMIN_PORT": "-1"]) == #"KAROKAR_ADMIN_PORT: "-1" is not off or a port in 0...65535"#)
        #expect(Self.error(flags: ["admin-host": ""]) == "--admin-host: admin-host must not be empty")
        #expect(Self.error(flags: ["log-format": "yaml"]) == "--log-format: log format must be one of text, json")
        #expect(Self.error(file: #"{"access-log": "yes"}"#) == "ops.json: access-log: expected true or false")
        #expect(Self.error(flags: ["metrics": "1"]) == "--metrics: expected true or false")
        #expect(Self.error(flags: ["health-check-interval-ms": "10"]) == #"--health-check-interval-ms: "10" is not an integer in 50...600000"#)
        #expect(Self.error(flags: ["metrics-sample-interval-ms": "x"]) == #"--metrics-sample-interval-ms: "x" is not an integer in 100...3600000"#)
        #expect(Self.error(flags: ["port": "9000", "admin-port": "9000"]) == "admin-port (9000) must differ from port on the same host")
        #expect(Self.error(flags: ["port": "9000", "admin-port": "9000", "admin-host": "10.0.0.1"]) == "no error", "another address")
    }

    @Test("the settings are listed with their flags and environment variables")
    func listed() {
        let names = Set(ServerSettings.specs.map(\.name))
        for name in ["admin-host", "admin-port", "metrics", "log-format", "access-log", "health-check-interval-ms", "metrics-sample-interval-ms"] {
            #expect(names.contains(name), "\(name)")
        }
        #expect(ServerSettings.specs.first { $0.name == "admin-port" }?.environmentVariable == "KAROKAR_ADMIN_PORT")
    }
}

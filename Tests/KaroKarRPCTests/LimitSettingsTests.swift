import KaroKarRPC
import KaroKarServer
import Testing

/// The connection limits of issue 19 are settings like the others (`karokar-server --help`).
@Suite("Limit settings")
struct LimitSettingsTests {
    static let names = ["outbound-high-water-bytes", "outbound-low-water-bytes", "outbound-stall-timeout-ms", "drain-delay-ms"]

    static func resolve(_ flags: [String: String]) throws -> ServerSettings {
        try ServerSettings.resolve(flags: flags, environment: [:], configFile: nil) { _ in [] }
    }

    @Test("each is listed, and its listed default is the server's default")
    func listedWithTheirDefaults() throws {
        let specs = ServerSettings.specs.filter { Self.names.contains($0.name) }
        #expect(specs.map(\.name).sorted() == Self.names.sorted())
        let defaults = try Self.resolve(Dictionary(uniqueKeysWithValues: specs.map { ($0.name, $0.defaultValue) }))
        #expect(defaults.limits == ServerLimits())
    }

    @Test func theyTakeEffect() throws {
        let limits = try Self.resolve([
            "outbound-high-water-bytes": "1048576", "outbound-low-water-bytes": "4096",
            "outbound-stall-timeout-ms": "2500", "drain-delay-ms": "5000",
        ]).limits
        #expect(limits.outboundHighWaterBytes == 1_048_576 && limits.outboundLowWaterBytes == 4_096)
        #expect(limits.outboundStallTimeout == .milliseconds(2_500) && limits.drainDelay == .seconds(5))
    }

    @Test("a low-water mark above the high-water mark is refused at start, naming both")
    func lowAboveHighIsRefused() {
        #expect {
            try Self.resolve(["outbound-high-water-bytes": "65536", "outbound-low-water-bytes": "65537"])
        } throws: { error in
            "\(error)".contains("outbound-low-water-bytes (65537)") && "\(error)".contains("outbound-high-water-bytes (65536)")
        }
    }
}

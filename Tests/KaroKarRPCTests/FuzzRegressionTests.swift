import Foundation
@_spi(Fuzzing) import KaroKarRPCServer
import Testing

/// Every input the fuzzer once crashed on (`FuzzRegressions/`, also seeds of `Deploy/fuzz.sh`),
/// replayed through the fuzz target's own entry point in the ordinary test run, so that a fix is
/// kept without the sanitizer build. A regression traps the test process, which fails the run.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("FuzzRegressions")

    static var inputs: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".bin") }.sorted()
    }

    @Test func everyKeptInputIsPresent() {
        #expect(Self.inputs.count >= 3)
    }

    /// The first kept payload crash, in every message type: a NaN in a double field
    /// (`ConsumerLag`'s fields 4 and 9) makes a message unequal to itself, which the round-trip
    /// check once took for a lossy conversion. (The second, `payload-nested-nan-double.bin`: the
    /// same inside a repeated field, where a message still compares equal to itself.)
    @Test func nanDoublesRoundTripInEveryMessageType() {
        let nan: [UInt8] = Array(repeating: 0xFF, count: 8)
        for type in 0..<FuzzHooks.messageTypeCount {
            FuzzHooks.payload([0x21] + nan, type: type)  // field 4, fixed64
            FuzzHooks.payload([0x49] + nan, type: type)  // field 9, fixed64
        }
    }

    /// JSON mode: documents, as every message type, through the fuzz target's checks (JSON
    /// printed and parsed again; read as the message, then the binary and JSON round trips).
    @Test func jsonDocumentsInEveryMessageType() {
        let documents = [
            #"{}"#, #"[1, -0, 2.5e-3, "\u00e9\ud83d\ude00", {"a": [null, true]}]"#,
            #"{"vehicleId": "v1", "pageSize": 10, "status": 3, "nanos": -1, "seconds": "-62135596800"}"#,
            #"{"value": "NaN", "oldestPendingAgeSeconds": "-Infinity", "lastSeenSecondsAgo": 1e308}"#,
            #"{"vehicleId": "a\u0000b"}"#, #"{"name": "\u0000"}"#, #"{"metadata": {"k\u0000": "v"}}"#,
        ]
        for document in documents {
            for type in 0..<FuzzHooks.messageTypeCount {
                FuzzHooks.json(Array(document.utf8), type: type)
            }
        }
    }

    /// The seeds made from the schemas: every message type's JSON skeleton is read by its own
    /// type (so each has a binary seed too), and all of them pass the fuzz target's checks.
    @Test func schemaSeedsCoverEveryMessageType() {
        let seeds = FuzzHooks.seeds()
        #expect(seeds.filter { $0.name.hasPrefix("json-") }.count == FuzzHooks.messageTypeCount)
        #expect(seeds.filter { $0.name.hasPrefix("payload-") }.count == FuzzHooks.messageTypeCount)
        #expect(FuzzHooks.messageTypeCount > 256, "the type selector has 14 bits, not 8")
        for seed in seeds {
            #expect(FuzzHooks.messageTypeName(of: seed.bytes).map { seed.name.hasSuffix("-" + $0) } == true, "\(seed.name)")
            FuzzHooks.input(seed.bytes)
        }
    }

    @Test(arguments: inputs)
    func replays(_ name: String) throws {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent(name))
        FuzzHooks.input(Array(data))
    }
}

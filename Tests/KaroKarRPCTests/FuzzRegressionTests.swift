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
        #expect(Self.inputs.count >= 2)
    }

    /// The first kept payload crash, whatever message type its selector picks today: a NaN in a
    /// double field (`ConsumerLag`'s fields 4 and 9) makes a message unequal to itself, which the
    /// round-trip check once took for a lossy conversion.
    @Test func nanDoublesRoundTripInEveryMessageType() {
        let nan: [UInt8] = Array(repeating: 0xFF, count: 8)
        for selector in UInt8.min...UInt8.max {
            FuzzHooks.payload([0x21] + nan, selector: selector)  // field 4, fixed64
            FuzzHooks.payload([0x49] + nan, selector: selector)  // field 9, fixed64
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
            for selector in UInt8.min...UInt8.max {
                FuzzHooks.input([3, selector] + Array(document.utf8))
            }
        }
    }

    @Test(arguments: inputs)
    func replays(_ name: String) throws {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent(name))
        FuzzHooks.input(Array(data))
    }
}

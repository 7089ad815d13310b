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

    @Test(arguments: inputs)
    func replays(_ name: String) throws {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent(name))
        FuzzHooks.input(Array(data))
    }
}

import Foundation
import KaroKarTestSupport
import Testing

/// The tests' runner of helper programs (`ChildProcess`) ends whatever the child does. Each case
/// hung a test run with `readDataToEndOfFile()` (stdout first, then stderr): a child filling its
/// stderr pipe first, a child whose background process keeps the pipe open, a child that never ends.
@Suite("ChildProcess: both pipes, bounded, whatever the child does")
struct ChildProcessTests {
    static let shell = URL(fileURLWithPath: "/bin/sh")

    @Test func moreStderrThanAPipeHoldsBeforeAnyStdout() async throws {
        let outcome = try await ChildProcess.run(Self.shell, ["-c", "head -c 300000 /dev/zero | tr '\\0' e >&2; echo out"], timeout: .seconds(60))
        #expect(outcome.status == 0)
        #expect(outcome.stderr.utf8.count == 300_000)
        #expect(outcome.stdout == "out\n")
    }

    @Test func aBackgroundProcessHoldingThePipeDoesNotHoldTheRun() async throws {
        let started = ContinuousClock.now
        let outcome = try await ChildProcess.run(Self.shell, ["-c", "sleep 30 & echo done"], timeout: .seconds(60))
        #expect(outcome.status == 0)
        #expect(outcome.stdout == "done\n")
        #expect(ContinuousClock.now - started < .seconds(20), "read until the child ended, not until the sleeper did")
    }

    @Test func aChildPastItsDeadlineIsKilledAndSaysSo() async throws {
        let started = ContinuousClock.now
        let outcome = try await ChildProcess.run(Self.shell, ["-c", "echo before; exec sleep 60"], timeout: .seconds(1))
        #expect(outcome.timedOut)
        #expect(outcome.stdout == "before\n")
        #expect(outcome.description.contains("killed at its deadline"))
        #expect(ContinuousClock.now - started < .seconds(30))
    }
}

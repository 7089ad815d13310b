import Foundation
@testable import KaroKarKernel
import Testing

/// The bell every event loop of the relay sleeps on: a ring during a wait must end it. A ring
/// that came while `wait` was between its first look at the bell and installing its waiter was
/// remembered for the next wait and slept through by this one, the whole timeout (the relay's
/// poll interval); `OutboxLogTests.commitsWakeTheReaders` missed a commit that way about one
/// run in five. Without the fix this test saw it 1 to a few times in 3,000 to 10,000 tries.
@Suite("Doorbell")
struct DoorbellTests {
    @Test("a ring racing a wait's start always ends that wait")
    func aRingRacingAWaitEndsIt() async throws {
        let bell = Doorbell()
        var unrung = 0
        for _ in 0..<10_000 {
            let ringing = Thread { bell.ring() }
            async let woke = bell.wait(timeout: .seconds(3))
            ringing.start()
            let rung = await woke
            if !rung { unrung += 1 }  // timed out: the ring was slept through
            // Clear a ring that came before the wait and was not consumed (the fast path takes
            // it; nothing else should be left, but do not let one iteration leak into the next).
            _ = await bell.wait(timeout: .milliseconds(1))
        }
        #expect(unrung == 0, "\(unrung) rings slept through")
    }

    @Test("a ring with nobody waiting is kept for the next wait, once; a wait with no ring times out")
    func aRingIsRememberedOnce() async {
        let bell = Doorbell()
        bell.ring()
        bell.ring()
        #expect(await bell.wait(timeout: .seconds(5)))
        #expect(await bell.wait(timeout: .milliseconds(50)) == false)
    }
}

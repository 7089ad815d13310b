@testable import KaroKarPostgres
import Testing

/// The pool's bookkeeping as a plain value: no database, no clock.
@Suite("Pool state machine")
struct PoolStateMachineTests {
    typealias Machine = PoolStateMachine<Int>

    @Test("connects up to the maximum, then queues waiters in order")
    func capacityAndFairness() {
        var machine = Machine(maximumConnections: 2)
        #expect(isWaitAndConnect(machine.lease(waiter: 1)))
        #expect(isWaitAndConnect(machine.lease(waiter: 2)))
        #expect(isWait(machine.lease(waiter: 3)))
        #expect(machine.total == 2)
        #expect(handedTo(machine.connected(10)) == 1)
        #expect(handedTo(machine.connected(11)) == 2)
        // Returning a connection serves the oldest waiter first.
        guard case .handOver(10, waiter: 3) = machine.giveBack(10, reusable: true) else {
            Issue.record("the queued waiter gets the connection")
            return
        }
        guard case .keepIdle = machine.giveBack(11, reusable: true) else {
            Issue.record("nobody waits: keep it idle")
            return
        }
        guard case .use(11) = machine.lease(waiter: 4) else {
            Issue.record("an idle connection is used at once")
            return
        }
    }

    @Test("a broken connection is closed and replaced for a waiter")
    func replacement() {
        var machine = Machine(maximumConnections: 1)
        _ = machine.lease(waiter: 1)
        _ = machine.connected(7)
        _ = machine.lease(waiter: 2)
        guard case .close(7, connectNew: true) = machine.giveBack(7, reusable: false) else {
            Issue.record("close and reconnect")
            return
        }
        #expect(machine.connecting == 1)
        #expect(handedTo(machine.connected(8)) == 2)
    }

    @Test("failed connects back off exponentially while waiters remain, and stop when none do")
    func backoff() {
        var machine = Machine(maximumConnections: 4)
        _ = machine.lease(waiter: 1)
        var delays: [Int] = []
        for _ in 0..<8 {
            guard case .retry(let delay) = machine.connectFailed() else {
                Issue.record("a waiter remains: retry")
                return
            }
            delays.append(delay)
        }
        #expect(delays == [50, 100, 200, 400, 800, 1600, 2000, 2000])
        // While attempts fail, new waiters do not start parallel connection storms.
        #expect(isWait(machine.lease(waiter: 2)))
        let abandoned = machine.abandon(waiter: 1) && machine.abandon(waiter: 2)
        #expect(abandoned)
        guard case .none = machine.connectFailed() else {
            Issue.record("no waiter left: stop retrying")
            return
        }
        #expect(machine.connecting == 0)
        // The next caller starts a fresh attempt.
        #expect(isWaitAndConnect(machine.lease(waiter: 3)))
    }

    @Test func abandonedWaitersAreNotServed() {
        var machine = Machine(maximumConnections: 1)
        _ = machine.lease(waiter: 1)
        let first = machine.abandon(waiter: 1)
        let second = machine.abandon(waiter: 1)
        #expect(first && !second)
        guard case .keepIdle = machine.connected(5) else {
            Issue.record("the connection goes idle")
            return
        }
    }

    @Test func closingFailsWaitersAndClosesReturns() {
        var machine = Machine(maximumConnections: 2)
        _ = machine.lease(waiter: 1)
        _ = machine.connected(1)
        _ = machine.lease(waiter: 2)
        let (idle, waiters) = machine.close()
        #expect(idle.isEmpty && waiters == [2])
        guard case .close(1, connectNew: false) = machine.giveBack(1, reusable: true) else {
            Issue.record("a closed pool closes returned connections")
            return
        }
        guard case .fail = machine.lease(waiter: 3) else {
            Issue.record("a closed pool refuses leases")
            return
        }
    }

    private func isWait(_ action: Machine.LeaseAction) -> Bool {
        if case .wait = action { return true }
        return false
    }

    private func isWaitAndConnect(_ action: Machine.LeaseAction) -> Bool {
        if case .waitAndConnect = action { return true }
        return false
    }

    private func handedTo(_ action: Machine.ConnectedAction) -> Int? {
        if case .handOver(_, let waiter) = action { return waiter }
        return nil
    }
}

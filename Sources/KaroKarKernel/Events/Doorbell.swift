import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Wakes one waiting loop: ``ring()`` before or during ``wait(timeout:)`` ends the wait; a ring
/// with nobody waiting is remembered once. Spurious wake-ups are harmless to its users.
public final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: (id: Int, continuation: CheckedContinuation<Bool, Never>)?
        var nextID = 0
    }

    private let state = NIOLockedValueBox(State())
    private let timers: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()

    public init() {}

    public func ring() {
        resume { state in
            if state.waiter == nil { state.rung = true }
            return state.waiter?.id
        }
    }

    /// Returns when rung (true), after `timeout` or when the task is cancelled (false, unless a
    /// ring came first).
    @discardableResult
    public func wait(timeout: Duration) async -> Bool {
        let id = state.withLockedValue { state -> Int? in
            if state.rung {
                state.rung = false
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return true }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // A ring between the check above and here found no waiter and was remembered:
                // it is this wait's (else the wait would sleep through it, the whole timeout).
                let rungMeanwhile = state.withLockedValue { state -> Bool in
                    if state.rung {
                        state.rung = false
                        return true
                    }
                    state.waiter = (id, continuation)
                    return false
                }
                if rungMeanwhile {
                    continuation.resume(returning: true)
                    return
                }
                timers.scheduleTask(in: TimeAmount(timeout)) {
                    self.resume(rung: false) { _ in id }
                }
                if Task.isCancelled { resume(rung: false) { _ in id } }
            }
        } onCancel: {
            resume(rung: false) { _ in id }
        }
    }

    /// Resumes the waiter whose id `pick` returns, if it is still the one waiting.
    private func resume(rung: Bool = true, _ pick: (inout State) -> Int?) {
        let continuation = state.withLockedValue { state -> CheckedContinuation<Bool, Never>? in
            guard let id = pick(&state), let waiter = state.waiter, waiter.id == id else { return nil }
            state.waiter = nil
            return waiter.continuation
        }
        continuation?.resume(returning: rung)
    }
}

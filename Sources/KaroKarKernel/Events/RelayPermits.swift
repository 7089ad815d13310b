import NIOConcurrencyHelpers

/// How many of the relay's loops may use the database at once. The relay runs a delivery loop
/// per consumer and worker, a fan-out and a retention pass: with a few consumers that is more
/// loops than a pool has connections, and left alone they could hold every connection of the
/// pool the calls share (each loop takes one whenever it has work), starving the calls and
/// opening the whole pool at every start. A loop holds a permit while it claims, runs a batch,
/// fans out or prunes; the others wait their turn, in order.
final class RelayPermits: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: NIOLockedValueBox<State>
    let limit: Int

    init(_ limit: Int) {
        self.limit = max(1, limit)
        state = NIOLockedValueBox(State(available: max(1, limit)))
    }

    /// Loops waiting for a permit now.
    var waiting: Int { state.withLockedValue { $0.waiters.count } }

    func withPermit<Result>(_ body: () async throws -> Result) async throws -> Result {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let granted = state.withLockedValue { state in
                guard state.available > 0 else {
                    state.waiters.append(waiter)
                    return false
                }
                state.available -= 1
                return true
            }
            if granted { waiter.resume() }
        }
    }

    private func release() {
        let next = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiters.isEmpty else {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}

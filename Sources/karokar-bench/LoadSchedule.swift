/// When a connection starts calls and which ones count, in uptime nanoseconds shared by all
/// connections of a run.
struct LoadSchedule: Sendable {
    enum Stop: Sendable {
        /// Start no call intended at or after this instant.
        case at(UInt64)
        /// Start this many measured calls.
        case afterCalls(Int)
    }

    /// Calls intended before this instant are warm-up: sent, not recorded.
    let measureFrom: UInt64
    let stop: Stop
    /// Open loop: nanoseconds between intended starts on this connection; nil: closed loop
    /// (a call starts as soon as another completes).
    let interval: UInt64?
    /// How long to wait for replies once no more calls start, before counting them as NO_REPLY.
    let grace: UInt64

    func isMeasured(_ intended: UInt64) -> Bool {
        intended >= measureFrom
    }

    /// Whether a call intended at `intended` may start, given `measuredStarted` measured calls so far.
    func allows(_ intended: UInt64, measuredStarted: Int) -> Bool {
        switch stop {
        case .at(let end): intended < end
        case .afterCalls(let total): !isMeasured(intended) || measuredStarted < total
        }
    }
}

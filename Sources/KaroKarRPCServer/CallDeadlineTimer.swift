import KaroKarRPC
import NIOCore

/// One connection's call deadlines served by a single timer, armed for the earliest one: a call
/// costs a comparison instead of a scheduled task (heap insert, lock, cancel) of its own. When the
/// timer fires, the connection expires what is due and re-arms for the earliest deadline left, so
/// every deadline still fires on time.
struct CallDeadlineTimer {
    private var armed: (at: NIODeadline, task: Scheduled<Void>)?

    /// Arms the timer for `deadline` unless it is already armed for an earlier instant.
    mutating func arm(at deadline: NIODeadline, on loop: any EventLoop, fire: @escaping () -> Void) {
        if let armed {
            guard deadline < armed.at else { return }
            armed.task.cancel()
        }
        armed = (deadline, loop.assumeIsolated().scheduleTask(deadline: deadline, fire))
    }

    /// Called first thing when the timer fires.
    mutating func fired() {
        armed = nil
    }

    mutating func cancel() {
        armed?.task.cancel()
        armed = nil
    }

    /// The calls whose deadline is at or before `now` (by call id), and the earliest deadline after it.
    static func due<Calls: Sequence>(
        _ calls: Calls, now: NIODeadline
    ) -> (expired: [UInt32], next: NIODeadline?) where Calls.Element == (key: UInt32, value: NIODeadline?) {
        var expired: [UInt32] = []
        var next: NIODeadline?
        for (callID, deadline) in calls {
            guard let deadline else { continue }
            if deadline <= now {
                expired.append(callID)
            } else if next.map({ deadline < $0 }) ?? true {
                next = deadline
            }
        }
        return (expired.sorted(), next)
    }
}

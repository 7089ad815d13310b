import KaroKarRPC
import NIOConcurrencyHelpers
import NIOCore

/// Carries REPLY frames from call tasks back to their connection's event loop in batches: the
/// first reply of a batch schedules one `execute` on the loop, later ones join it. One hop (and at
/// most one wake-up of the loop) per batch instead of per reply, and no closure per reply.
final class ReplyMailbox: Sendable {
    typealias Reply = (callID: UInt32, frame: ByteBuffer)

    private struct State {
        var replies: [Reply] = []
        var scheduled = false
    }

    private let state = NIOLockedValueBox(State())
    private let loop: any EventLoop
    private let deliver: NIOLoopBound<([Reply]) -> Void>

    /// `deliver` runs on `loop` with each batch, in the order the replies were posted. Create the
    /// mailbox on `loop`.
    init(loop: any EventLoop, deliver: @escaping ([Reply]) -> Void) {
        self.loop = loop
        self.deliver = NIOLoopBound(deliver, eventLoop: loop)
    }

    /// Called from any thread.
    func post(callID: UInt32, frame: ByteBuffer) {
        let schedule = state.withLockedValue { state in
            state.replies.append((callID, frame))
            defer { state.scheduled = true }
            return !state.scheduled
        }
        if schedule {
            loop.execute { self.drain() }
        }
    }

    private func drain() {
        let batch = state.withLockedValue { state in
            state.scheduled = false
            defer { state.replies = [] }
            return state.replies
        }
        deliver.value(batch)
    }
}

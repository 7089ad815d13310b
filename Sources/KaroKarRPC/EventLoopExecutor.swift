public import NIOCore

/// A SwiftNIO event loop as a task executor. A task that prefers it
/// (`Task(executorPreference:)`, `group.addTask(executorPreference:)`) runs on the loop's thread,
/// and an ``RPCClient`` on the same group gives its calls a connection served by that loop when
/// one is open: each call is written and its reply resumes the task on that one thread, with no
/// hand-off to Swift's global executor and back (two thread wake-ups per call). For callers
/// that make many small calls, such as a load generator's workers; keep heavy work off it, it
/// delays every connection of the loop.
public final class EventLoopExecutor: TaskExecutor {
    public let loop: any EventLoop

    public init(_ loop: any EventLoop) {
        self.loop = loop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }

    /// One per loop of `group`.
    public static func all(of group: any EventLoopGroup) -> [EventLoopExecutor] {
        group.makeIterator().map { EventLoopExecutor($0) }
    }
}

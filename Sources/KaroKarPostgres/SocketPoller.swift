import CLibPQ
import Dispatch
import Glibc
import NIOConcurrencyHelpers
import Synchronization

/// A few threads (``Loop``s) that wait, with epoll, for libpq sockets to become readable or
/// writable, and resume the task waiting on each. With them, queries use libpq's non-blocking API
/// from the task itself: no thread is parked in a blocking call per query, and a query costs one
/// wake-up (the reply arriving) instead of a hand-off to a blocking thread and back.
///
/// Each socket has at most one waiter (a pooled connection serves one task at a time).
///
/// The loops' threads together are also a `TaskExecutor`: a task that prefers it
/// (`withTaskExecutorPreference(pool.executor)`) runs on the loop that sees its replies arrive,
/// so a query costs that one wake-up and no hand-off to another thread at all. A task stays on
/// one loop: it arms its socket with the loop it runs on, and the reply resumes it there.
/// Several loops (like `pgbench -j`) keep one thread's scheduling from serializing every
/// connection: while the kernel runs a woken backend on one core, the other loop goes on.
final class SocketPoller: TaskExecutor, Sendable {
    enum Interest: Sendable {
        case readable
        /// Writable, or readable (libpq must read while it flushes, or both sides could stall).
        case writableOrReadable
    }

    private struct State {
        var waiters: [Int32: UnsafeContinuation<Void, Never>] = [:]
        /// The loop whose epoll holds each socket (a socket is in at most one).
        var registeredOn: [Int32: Int] = [:]
        var stopping = false
    }

    private enum Registration {
        case stopping, new, same
        case moved(from: Int)
    }

    private let loops: [Loop]
    private let state = NIOLockedValueBox(State())
    /// Spreads jobs enqueued from outside the loops (new tasks, hand-overs) round robin.
    private let nextLoop = Atomic<Int>(0)
    /// Waits that began after ``shutdown()`` (each one poll of up to 100 ms): for the tests.
    let waitsAfterShutdown = Atomic<Int>(0)

    /// `threads`: how many loops (each one thread), at least one.
    init(threads: Int) {
        loops = (0..<max(1, threads)).map { Loop(index: $0) }
        for loop in loops { loop.start(self) }
    }

    var threadCount: Int { loops.count }

    /// Suspends until `socket` is ready for `interest` (or has failed: the caller's next libpq
    /// call reports how). The socket is armed one-shot for this one wait, with the loop the
    /// caller runs on (any loop for a caller off them), so the reply resumes it there.
    func wait(_ socket: Int32, for interest: Interest) async {
        let loop = Loop.current(in: loops) ?? loops[Int(socket) % loops.count]
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let registration = state.withLockedValue { state -> Registration in
                guard !state.stopping else { return .stopping }
                state.waiters[socket] = continuation
                guard let previous = state.registeredOn.updateValue(loop.index, forKey: socket) else { return .new }
                return previous == loop.index ? .same : .moved(from: previous)
            }
            let operation: Int32
            switch registration {
            case .stopping:
                // The loops are ending, but a statement sent before may still be running: its
                // caller waits on its socket with poll(2), off the loops and at most 100 ms at a
                // time (then libpq looks again), not in a loop that returns at once (a whole core
                // spun until the reply came), and not for ever (a closed socket has no event).
                waitsAfterShutdown.add(1, ordering: .relaxed)
                let events = Int16(interest == .readable ? POLLIN : POLLIN | POLLOUT)
                DispatchQueue.global().async {
                    var descriptor = pollfd(fd: socket, events: events, revents: 0)
                    _ = poll(&descriptor, 1, 100)
                    continuation.resume()
                }
                return
            case .new: operation = EPOLL_CTL_ADD
            case .same: operation = EPOLL_CTL_MOD
            case .moved(let previous):
                // Disarmed there (one-shot, and its last event was taken), so nothing fires twice.
                epoll_ctl(loops[previous].epoll, EPOLL_CTL_DEL, socket, nil)
                operation = EPOLL_CTL_ADD
            }
            let wanted = interest == .readable ? EPOLLIN.rawValue : EPOLLIN.rawValue | EPOLLOUT.rawValue
            var event = epoll_event(events: wanted | EPOLLONESHOT.rawValue | EPOLLRDHUP.rawValue, data: epoll_data_t(fd: socket))
            if epoll_ctl(loop.epoll, operation, socket, &event) != 0 {
                take([socket]).forEach { $0.resume() }  // not pollable (closed): let libpq say what happened
            }
        }
    }

    /// Forgets a socket before its connection closes it (the number may be reused at once).
    func forget(_ socket: Int32) {
        let registeredOn = state.withLockedValue { $0.registeredOn.removeValue(forKey: socket) }
        if let registeredOn { epoll_ctl(loops[registeredOn].epoll, EPOLL_CTL_DEL, socket, nil) }
        take([socket]).forEach { $0.resume() }
    }

    /// The waiters of `sockets` (those that have one), removed, under one lock.
    fileprivate func take(_ sockets: some Sequence<Int32>) -> [UnsafeContinuation<Void, Never>] {
        state.withLockedValue { state in sockets.compactMap { state.waiters.removeValue(forKey: $0) } }
    }

    fileprivate var isStopping: Bool { state.withLockedValue { $0.stopping } }

    func shutdown() {
        let waiters = state.withLockedValue { state -> [UnsafeContinuation<Void, Never>] in
            state.stopping = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        waiters.forEach { $0.resume() }
        loops.forEach { $0.wake() }
    }

    // MARK: - TaskExecutor

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // A job resumed on a loop (its reply arrived there) stays on that loop's thread.
        let loop = Loop.current(in: loops)
            ?? loops[nextLoop.wrappingAdd(1, ordering: .relaxed).oldValue % loops.count]
        loop.push(job, executor: asUnownedTaskExecutor())
    }
}

/// One thread of a ``SocketPoller``: its own epoll set, its own job queue, and an eventfd that
/// wakes it for a job or for stopping.
///
/// Its two descriptors are closed when the loop itself goes (`deinit`), never by its thread on
/// stopping: a task may still push a job (and so write to the eventfd) after the poller stopped,
/// and a closed number is soon reused; the write then went into whatever had it (seen: a
/// PostgreSQL connection's socket, which then read 01 00 00 00 ... as a message: "invalid frontend
/// message type 1"). Jobs pushed once the thread has ended run on Dispatch's global queue: a task
/// that prefers a stopped poller's executor still runs, never waits forever.
private final class Loop: @unchecked Sendable {
    private struct Jobs {
        var queue: [UnownedJob] = []
        /// The thread is (about to be) blocked in epoll_wait: a push must wake it.
        var sleeping = false
        /// The thread has ended: jobs go elsewhere.
        var ended = false
    }

    let index: Int
    let epoll: Int32
    private let wakeup: Int32
    private let jobs = NIOLockedValueBox(Jobs())

    /// The thread-specific slot that tells a loop's thread which loop it runs.
    private static let currentKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "no thread-specific key for the socket poller")
        return key
    }()

    init(index: Int) {
        self.index = index
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeup = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        precondition(epoll >= 0 && wakeup >= 0, "epoll or eventfd unavailable")
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: wakeup))
        epoll_ctl(epoll, EPOLL_CTL_ADD, wakeup, &event)
    }

    /// The loop among `loops` whose thread is the current one, if any.
    static func current(in loops: [Loop]) -> Loop? {
        guard let pointer = pthread_getspecific(currentKey) else { return nil }
        let loop = Unmanaged<Loop>.fromOpaque(pointer).takeUnretainedValue()
        return loops.contains { $0 === loop } ? loop : nil
    }

    func start(_ poller: SocketPoller) {
        let context = Unmanaged.passRetained(Context(loop: self, poller: poller)).toOpaque()
        var handle = pthread_t()
        let started = pthread_create(&handle, nil, { argument in
            let context = Unmanaged<Context>.fromOpaque(argument!).takeRetainedValue()
            pthread_setspecific(Loop.currentKey, Unmanaged.passUnretained(context.loop).toOpaque())
            context.loop.run(context.poller)
            return nil
        }, context)
        precondition(started == 0, "cannot start a PostgreSQL socket poller thread")
        pthread_detach(handle)
    }

    deinit {
        close(epoll)
        close(wakeup)
    }

    func push(_ job: UnownedJob, executor: UnownedTaskExecutor) {
        enum Outcome { case queued, wake, ended }
        let outcome = jobs.withLockedValue { jobs -> Outcome in
            if jobs.ended { return .ended }
            jobs.queue.append(job)
            defer { jobs.sleeping = false }
            return jobs.sleeping ? .wake : .queued
        }
        switch outcome {
        case .queued: break
        case .wake: wake()
        case .ended: DispatchQueue.global().async { job.runSynchronously(on: executor) }
        }
    }

    func wake() {
        var one: UInt64 = 1
        _ = write(wakeup, &one, 8)
    }

    private func run(_ poller: SocketPoller) {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        var batch: [UnownedJob] = []
        var ready: [Int32] = []
        batch.reserveCapacity(64)
        ready.reserveCapacity(64)
        while true {
            jobs.withLockedValue { jobs in
                swap(&batch, &jobs.queue)  // the emptied batch's storage becomes the next queue
                jobs.sleeping = batch.isEmpty
            }
            for job in batch { job.runSynchronously(on: poller.asUnownedTaskExecutor()) }
            let count = epoll_wait(epoll, &events, Int32(events.count), batch.isEmpty ? -1 : 0)
            batch.removeAll(keepingCapacity: true)
            if count < 0 {
                if errno == EINTR { continue }
                end(poller)
                return
            }
            ready.removeAll(keepingCapacity: true)
            for index in 0..<Int(count) {
                let socket = events[index].data.fd
                guard socket == wakeup else {
                    ready.append(socket)
                    continue
                }
                var value: UInt64 = 0
                _ = read(wakeup, &value, 8)
                if poller.isStopping {
                    end(poller)
                    return
                }
            }
            if !ready.isEmpty { poller.take(ready).forEach { $0.resume() } }
        }
    }

    /// The thread's last act, however it stops: jobs pushed before now run here, later ones go
    /// to Dispatch (``push(_:executor:)``), so none is left waiting.
    private func end(_ poller: SocketPoller) {
        let left = jobs.withLockedValue { jobs -> [UnownedJob] in
            jobs.ended = true
            defer { jobs.queue = [] }
            return jobs.queue
        }
        for job in left { job.runSynchronously(on: poller.asUnownedTaskExecutor()) }
    }

    /// Carries the loop and its poller into the thread.
    private final class Context: @unchecked Sendable {
        let loop: Loop
        let poller: SocketPoller

        init(loop: Loop, poller: SocketPoller) {
            self.loop = loop
            self.poller = poller
        }
    }
}

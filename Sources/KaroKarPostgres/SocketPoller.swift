import CLibPQ
import Glibc
import NIOConcurrencyHelpers

/// One thread that waits, with epoll, for libpq sockets to become readable or writable, and
/// resumes the task waiting on each. With it, queries use libpq's non-blocking API from the task
/// itself: no thread is parked in a blocking call per query, and a query costs one wake-up (the
/// reply arriving) instead of a hand-off to a blocking thread and back.
///
/// Each socket has at most one waiter (a pooled connection serves one task at a time).
///
/// The poller's thread is also a `TaskExecutor`: a task that prefers it
/// (`withTaskExecutorPreference(pool.executor)`) runs on the thread that sees its replies arrive,
/// so a query costs that one wake-up and no hand-off to another thread at all.
final class SocketPoller: TaskExecutor, Sendable {
    enum Interest: Sendable {
        case readable
        /// Writable, or readable (libpq must read while it flushes, or both sides could stall).
        case writableOrReadable
    }

    private struct State {
        var waiters: [Int32: CheckedContinuation<Void, Never>] = [:]
        var registered: Set<Int32> = []
        var stopping = false
    }

    private struct Jobs {
        var queue: [UnownedJob] = []
        /// The thread is (about to be) blocked in epoll_wait: an enqueue must wake it.
        var sleeping = false
    }

    private let epoll: Int32
    /// Written to stop the thread.
    private let wakeup: Int32
    private let state = NIOLockedValueBox(State())
    private let jobs = NIOLockedValueBox(Jobs())

    init() {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeup = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        precondition(epoll >= 0 && wakeup >= 0, "epoll or eventfd unavailable")
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: wakeup))
        epoll_ctl(epoll, EPOLL_CTL_ADD, wakeup, &event)
        let thread = PollerThread(poller: self)
        var handle = pthread_t()
        let started = pthread_create(&handle, nil, { argument in
            Unmanaged<PollerThread>.fromOpaque(argument!).takeRetainedValue().run()
            return nil
        }, Unmanaged.passRetained(thread).toOpaque())
        precondition(started == 0, "cannot start the PostgreSQL socket poller thread")
        pthread_detach(handle)
    }

    /// Suspends until `socket` is ready for `interest` (or has failed: the caller's next libpq
    /// call reports how).
    func wait(_ socket: Int32, for interest: Interest) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isNew = state.withLockedValue { state -> Bool? in
                guard !state.stopping else { return nil }
                state.waiters[socket] = continuation
                return state.registered.insert(socket).inserted
            }
            guard let isNew else {
                continuation.resume()  // shutting down: the caller's libpq call fails on its own
                return
            }
            let wanted = interest == .readable ? EPOLLIN.rawValue : EPOLLIN.rawValue | EPOLLOUT.rawValue
            let flags = wanted | EPOLLONESHOT.rawValue | EPOLLRDHUP.rawValue
            var event = epoll_event(events: flags, data: epoll_data_t(fd: socket))
            if epoll_ctl(epoll, isNew ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, socket, &event) != 0 {
                take(socket)?.resume()  // not pollable (closed): let libpq say what happened
            }
        }
    }

    /// Forgets a socket before its connection closes it (the number may be reused at once).
    func forget(_ socket: Int32) {
        let wasRegistered = state.withLockedValue { $0.registered.remove(socket) != nil }
        if wasRegistered { epoll_ctl(epoll, EPOLL_CTL_DEL, socket, nil) }
        take(socket)?.resume()
    }

    private func take(_ socket: Int32) -> CheckedContinuation<Void, Never>? {
        state.withLockedValue { $0.waiters.removeValue(forKey: socket) }
    }

    func shutdown() {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.stopping = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        waiters.forEach { $0.resume() }
        wake()
    }

    private func wake() {
        var one: UInt64 = 1
        _ = write(wakeup, &one, 8)
    }

    // MARK: - TaskExecutor

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let mustWake = jobs.withLockedValue { jobs -> Bool in
            jobs.queue.append(job)
            defer { jobs.sleeping = false }
            return jobs.sleeping
        }
        if mustWake { wake() }
    }

    // MARK: - The thread

    fileprivate func loop() {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        var batch: [UnownedJob] = []
        batch.reserveCapacity(64)
        while true {
            batch = jobs.withLockedValue { jobs -> [UnownedJob] in
                let taken = jobs.queue
                jobs.queue.removeAll(keepingCapacity: true)
                jobs.sleeping = taken.isEmpty
                return taken
            }
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
            let count = epoll_wait(epoll, &events, Int32(events.count), batch.isEmpty ? -1 : 0)
            if count < 0 {
                if errno == EINTR { continue }
                break
            }
            for index in 0..<Int(count) {
                let socket = events[index].data.fd
                if socket == wakeup {
                    var value: UInt64 = 0
                    _ = read(wakeup, &value, 8)
                    if state.withLockedValue({ $0.stopping }) {
                        close(epoll)
                        close(wakeup)
                        return
                    }
                    continue
                }
                take(socket)?.resume()
            }
        }
    }
}

/// Carries the poller into its thread.
private final class PollerThread: @unchecked Sendable {
    let poller: SocketPoller

    init(poller: SocketPoller) {
        self.poller = poller
    }

    func run() {
        poller.loop()
    }
}

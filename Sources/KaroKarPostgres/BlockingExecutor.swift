import NIOCore
import NIOPosix

/// Dedicated threads for blocking libpq calls, so none ever runs on a NIO event loop or stalls
/// Swift's cooperative pool. One thread per pooled connection: a query never waits for a thread.
final class BlockingExecutor: Sendable {
    private let threads: NIOThreadPool
    private let completions: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton

    init(threads count: Int) {
        threads = NIOThreadPool(numberOfThreads: count)
        threads.start()
    }

    /// Runs `body` on a pool thread, always: unlike NIO's async `runIfActive`, a cancelled caller
    /// does not skip the work (a ROLLBACK must run precisely then). Statements are cancelled on the
    /// server instead (PQcancel, see ``PostgresSession``).
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await threads.runIfActive(eventLoop: completions.next(), body).get()
    }

    func shutdown() async {
        try? await threads.shutdownGracefully()
    }
}

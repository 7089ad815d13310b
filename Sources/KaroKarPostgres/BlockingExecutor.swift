import NIOPosix

/// Dedicated threads for blocking libpq calls, so none ever runs on a NIO event loop or stalls
/// Swift's cooperative pool. One thread per pooled connection: a query never waits for a thread.
final class BlockingExecutor: Sendable {
    private let threads: NIOThreadPool

    init(threads count: Int) {
        threads = NIOThreadPool(numberOfThreads: count)
        threads.start()
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await threads.runIfActive(body)
    }

    func shutdown() async {
        try? await threads.shutdownGracefully()
    }
}

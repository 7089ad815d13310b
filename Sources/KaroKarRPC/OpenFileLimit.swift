#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's limit on open file descriptors (`RLIMIT_NOFILE`): every connection takes one,
/// and a client and a server in one process (tests) take two.
package enum OpenFileLimit {
    #if os(Linux)
    private static let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let resource = RLIMIT_NOFILE
    #endif

    /// The soft limit in force.
    package static var current: Int {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return 0 }
        return Int(clamping: limit.rlim_cur)
    }

    /// Raises the soft limit to `wanted` descriptors if it is lower: up to the hard limit, or past
    /// it when the process may raise that too (root). Returns the soft limit in force afterwards.
    @discardableResult
    package static func raise(toAtLeast wanted: Int) -> Int {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0, wanted > 0 else { return current }
        let target = rlim_t(wanted)
        guard limit.rlim_cur < target else { return current }
        var raised = limit
        raised.rlim_cur = target
        raised.rlim_max = max(limit.rlim_max, target)
        if setrlimit(resource, &raised) != 0 {
            raised = limit
            raised.rlim_cur = limit.rlim_max
            _ = setrlimit(resource, &raised)
        }
        return current
    }
}

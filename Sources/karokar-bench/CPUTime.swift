#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// User + system CPU seconds of this process and, when its pid is known, of the server.
struct CPUTime: Sendable {
    var loadGenerator: Double
    var server: Double?

    static func sample(serverPID: Int32?) -> CPUTime {
        CPUTime(loadGenerator: ownSeconds(), server: serverPID.flatMap(seconds(pid:)))
    }

    static func - (after: CPUTime, before: CPUTime) -> CPUTime {
        CPUTime(
            loadGenerator: after.loadGenerator - before.loadGenerator,
            server: after.server.flatMap { end in before.server.map { end - $0 } }
        )
    }

    private static func ownSeconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    private static func seconds(_ time: timeval) -> Double {
        Double(time.tv_sec) + Double(time.tv_usec) / 1e6
    }

    /// From `/proc/PID/stat`: fields 14 and 15 (utime, stime) in clock ticks; nil elsewhere.
    static func seconds(pid: Int32) -> Double? {
        guard let stat = ProcFile.contents(pid: pid, "stat"), let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = stat[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 13, let user = Double(String(decoding: fields[11], as: UTF8.self)),
              let system = Double(String(decoding: fields[12], as: UTF8.self)) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// Files of `/proc/PID/`, where there are (Linux).
enum ProcFile {
    /// The first 8 KiB of `/proc/PID/name`; nil if it cannot be read.
    static func contents(pid: Int32, _ name: String) -> [UInt8]? {
        let fd = open("/proc/\(pid)/\(name)", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 8192)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return count > 0 ? Array(buffer[0..<count]) : nil
    }
}

extension CPUTime {
    static func + (left: CPUTime, right: CPUTime) -> CPUTime {
        CPUTime(loadGenerator: left.loadGenerator + right.loadGenerator, server: left.server.flatMap { a in right.server.map { a + $0 } })
    }
}

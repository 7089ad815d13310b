#if canImport(Glibc)
import Glibc
let posixRead = Glibc.read
let posixWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
let posixRead = Darwin.read
let posixWrite = Darwin.write
#endif

/// Small POSIX file operations for secrets: files only the user can read, replaced atomically.
enum SecureFile {
    /// The whole file (at most 16 MiB), or nil when it does not exist.
    static func read(_ path: String) throws(ToolError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw failure("cannot open", path)
        }
        defer { close(fd) }
        return try readAll(fd: fd, name: path)
    }

    /// Everything readable from `fd` until end of file (at most 16 MiB).
    static func readAll(fd: Int32, name: String) throws(ToolError) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { posixRead(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw failure("cannot read", name) }
            guard count > 0 else { return bytes }
            bytes += chunk[0..<count]
            guard bytes.count <= 16 << 20 else { throw ToolError("\(name) is larger than 16 MiB") }
        }
    }

    /// Creates the directory (and missing parents) with mode 0700.
    static func makeDirectory(_ path: String) throws(ToolError) {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST { throw failure("cannot create directory", prefix) }
        }
    }

    /// Writes a temporary file with mode 0600 next to `path`, then renames it over `path`.
    static func replace(_ path: String, with bytes: [UInt8]) throws(ToolError) {
        let temporary = path + ".tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("cannot create", temporary) }
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { posixWrite(fd, $0.baseAddress, $0.count) }
            guard count > 0 else {
                close(fd)
                unlink(temporary)
                throw failure("cannot write", temporary)
            }
            written += count
        }
        guard fsync(fd) == 0, close(fd) == 0, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw failure("cannot save", path)
        }
    }

    private static func failure(_ what: String, _ path: String) -> ToolError {
        ToolError("\(what) \(path): \(String(cString: strerror(errno)))")
    }
}

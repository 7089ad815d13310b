import Foundation
@testable import KaroKarPostgres
import Testing

/// The embedded PostgreSQL's spawner gives its children descriptors 0-2 only: a postmaster must
/// not keep a pipe of this process (a tool's stdout being read to its end) open for its life.
@Suite("Subprocess: children inherit no descriptor beyond 0-2")
struct SubprocessTests {
    @Test func aPipeOpenHereIsNotInherited() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)  // not close-on-exec: inherited unless the spawner closes it
        defer { close(fds[0]); close(fds[1]) }
        let output = NSTemporaryDirectory() + "karokar-subprocess-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let status = Subprocess.wait(try Subprocess.spawn("/bin/sh", ["-c", "ls /proc/$$/fd"], outputPath: output))
        #expect(status == 0)
        let inherited = Set(try String(contentsOfFile: output, encoding: .utf8).split(whereSeparator: \.isWhitespace).compactMap { Int32($0) })
        #expect(inherited.contains(1), "the listing is the child's own")
        #expect(!inherited.contains(fds[0]) && !inherited.contains(fds[1]), "the pipe \(fds) reached the child: \(inherited.sorted())")
    }
}

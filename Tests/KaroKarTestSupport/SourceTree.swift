public import Foundation

/// The package's own source files, for tests that hold the code and its documents to each other.
/// Folders are walked whole, so files may move within them.
public enum SourceTree {
    /// The package root (this file is `Tests/KaroKarTestSupport/SourceTree.swift`).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Every `.swift` file under `folder` (relative to the root), with its path and text.
    public static func swiftFiles(under folder: String) -> [(path: String, text: String)] {
        let base = root.appendingPathComponent(folder)
        let urls = (FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil)?.allObjects as? [URL]) ?? []
        return urls.filter { $0.pathExtension == "swift" }.sorted { $0.path < $1.path }.compactMap { url in
            (try? String(contentsOf: url, encoding: .utf8)).map { (String(url.path.dropFirst(root.path.count + 1)), $0) }
        }
    }

    /// The text length limits the migrations under `folder` put in `CHECK`s (`length(x)` or
    /// `char_length(x)`), as `schema.table.column` → limit.
    public static func textLengthChecks(under folder: String) -> [String: Int] {
        var limits: [String: Int] = [:]
        for (_, text) in swiftFiles(under: folder) where text.contains("CREATE TABLE") || text.contains("ALTER TABLE") {
            var table = ""
            for line in text.split(separator: "\n") {
                for keyword in ["CREATE TABLE ", "ALTER TABLE "] {
                    if let range = line.range(of: keyword) {
                        table = String(line[range.upperBound...].prefix { !$0.isWhitespace && $0 != "(" })
                    }
                }
                guard let call = line.range(of: "length(") else { continue }
                let column = line[call.upperBound...].prefix { $0 != ")" }
                let numbers = line.split { !$0.isNumber }.compactMap { Int($0) }
                if let limit = numbers.last { limits["\(table).\(column)"] = limit }
            }
        }
        return limits
    }
}

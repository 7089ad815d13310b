import Foundation

/// The stable codes the server's sources can put in a status: domain codes (`ErrorDetails.domain_code`)
/// and field violation codes (`FieldViolation.code`), found by reading every file under `Sources/`
/// (so that files may move), and the same codes as `Protos/PROTOCOL.md` section 7 lists them.
public struct StatusCodeScan: Sendable {
    public var domainCodes: Set<String> = []
    public var violationCodes: Set<String> = []
    /// Codes built at run time that the scan could not resolve: each must be resolvable.
    public var unresolved: [String] = []

    /// `notFoundCode` is how `DomainError.notFound(_:)` names the code for an entity.
    public static func sources(notFoundCode: (String) -> String) -> StatusCodeScan {
        let files = SourceTree.swiftFiles(under: "Sources").filter { !$0.path.contains("/Generated/") }
        var scan = StatusCodeScan()
        for (path, text) in files {
            for literal in matches(#"domainCode:\s*"((?:[^"\\]|\\.)*)""#, in: text)
                + matches(#"(?:failedPrecondition|alreadyExists)\(\s*"((?:[^"\\]|\\.)*)""#, in: text)
                + matches(#"DomainError\(\s*\.[A-Za-z]+\s*,\s*"((?:[^"\\]|\\.)*)""#, in: text) {
                scan.add(literal, path: path, text: text, files: files)
            }
            scan.domainCodes.formUnion(matches(#"\bnotFound\(\s*"([^"\\]*)""#, in: text).map(notFoundCode))
            for block in matches(#"enum \w*DomainCode\s*\{([^}]*)\}"#, in: text) {
                scan.domainCodes.formUnion(matches(#"static let \w+\s*=\s*"([A-Z][A-Z0-9_]*)""#, in: block))
            }
            for line in text.split(separator: "\n") {
                if let call = line.range(of: #"\badd\("#, options: .regularExpression) {
                    scan.violationCodes.formUnion(matches(#""([A-Z][A-Z0-9_]*)""#, in: String(line[call.upperBound...])))
                }
                scan.violationCodes.formUnion(matches(#"\bcode:\s*"([A-Z][A-Z0-9_]*)""#, in: String(line)))
            }
        }
        return scan
    }

    /// A literal code, or one built by interpolating a helper's parameter (`"INVALID_\(what)_TRANSITION"`
    /// in `func invalidTransition(_ what: String, …)`): then every call of the helper with a
    /// literal argument names one code.
    private mutating func add(_ literal: String, path: String, text: String, files: [(path: String, text: String)]) {
        guard literal.contains(#"\("#) else {
            if literal.range(of: #"^[A-Z][A-Z0-9_]*$"#, options: .regularExpression) != nil { domainCodes.insert(literal) }
            return
        }
        let parts = literal.components(separatedBy: #"\("#)
        guard parts.count == 2, let close = parts[1].firstIndex(of: ")"),
              let position = text.range(of: literal), let helper = Self.enclosingFunction(in: text, before: position.lowerBound)
        else {
            unresolved.append("\(path): \(literal)")
            return
        }
        let suffix = parts[1][parts[1].index(after: close)...]
        let arguments = files.flatMap { Self.matches(#"\b\#(helper)\(\s*"([A-Z][A-Z0-9_]*)""#, in: $0.text) }
        if arguments.isEmpty { unresolved.append("\(path): \(literal) (no call of \(helper) with a literal)") }
        domainCodes.formUnion(arguments.map { parts[0] + $0 + suffix })
    }

    private static func enclosingFunction(in text: String, before index: String.Index) -> String? {
        matches(#"func (\w+)\("#, in: String(text[..<index])).last
    }

    /// The codes `Protos/PROTOCOL.md` section 7 lists: the backticked entries of every table's
    /// "Domain code" column, and of its "Violation code" column.
    public static func document() throws -> (domainCodes: Set<String>, violationCodes: Set<String>) {
        let text = try String(contentsOf: SourceTree.root.appendingPathComponent("Protos/PROTOCOL.md"), encoding: .utf8)
        guard let start = text.range(of: "\n## 7. "), let end = text.range(of: "\n## 8. ") else { return ([], []) }
        var domain: Set<String> = []
        var violation: Set<String> = []
        var column: (index: Int, isDomain: Bool)?
        for line in text[start.upperBound..<end.lowerBound].split(separator: "\n") {
            guard line.hasPrefix("|") else {
                column = nil
                continue
            }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if column == nil {
                column = cells.firstIndex(of: "Domain code").map { ($0, true) } ?? cells.firstIndex(of: "Violation code").map { ($0, false) }
                continue
            }
            guard let (index, isDomain) = column, index < cells.count else { continue }
            let codes = matches(#"`([A-Z][A-Z0-9_]*)`"#, in: cells[index])
            if isDomain { domain.formUnion(codes) } else { violation.formUnion(codes) }
        }
        return (domain, violation)
    }

    static func matches(_ pattern: String, in text: String) -> [String] {
        let expression = try! NSRegularExpression(pattern: pattern)
        return expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        }
    }
}

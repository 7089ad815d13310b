import Foundation
import KaroKarKernel
import KaroKarRPC

/// Every RPC's access rule as its `.proto` declares it (`option (karokar.options.v1.access)`),
/// what its comment documents after "Permission:", and what the generated method tables carry:
/// read from the files, so the tests cover the contexts this server does not serve yet too.
enum DeclaredAccess {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Method {
        /// `/package.Service/Name`.
        var path: String
        /// Nil when the method declares no rule, or one this parser cannot read.
        var declared: MethodAccess?
        /// The comment's text after "Permission:" ("" when it has none).
        var documented: String
    }

    static func files(under folder: String, ext: String) -> [URL] {
        let url = root.appendingPathComponent(folder)
        let enumerator = FileManager.default.enumerator(at: url, includingPropertiesForKeys: nil)
        return (enumerator?.allObjects as? [URL] ?? []).filter { $0.pathExtension == ext }
    }

    /// Every rpc of every service in `Protos/karokar`, by path.
    static func fromProtos() throws -> [String: Method] {
        var methods: [String: Method] = [:]
        for file in files(under: "Protos/karokar", ext: "proto") {
            for method in try Self.methods(in: String(contentsOf: file, encoding: .utf8)) { methods[method.path] = method }
        }
        return methods
    }

    /// The rpcs of one `.proto` file.
    static func methods(in proto: String) -> [Method] {
        var package = "", service = "", comment: [String] = [], methods: [Method] = []
        for raw in proto.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("package ") { package = String(line.dropFirst(8).dropLast()) }
            if line.hasPrefix("service ") { service = String(line.split(separator: " ")[1]) }
            if line.hasPrefix("//") {
                comment.append(String(line.dropFirst(2)).trimmingCharacters(in: .whitespaces))
                continue
            }
            if line.hasPrefix("rpc ") {
                let name = line.dropFirst(4).prefix { $0 != "(" }
                let text = comment.joined(separator: " ")
                let documented = text.range(of: "Permission:").map { String(text[$0.upperBound...]) } ?? ""
                methods.append(Method(path: "/\(package).\(service)/\(name)", declared: nil, documented: documented))
            } else if line.hasPrefix("option (karokar.options.v1.access)"), !methods.isEmpty, methods[methods.count - 1].declared == nil {
                methods[methods.count - 1].declared = rule(line)
            }
            comment = []
        }
        return methods
    }

    /// `{public: true}`, `{authenticated: true}`, `{permissions: "a"}` or `{permissions: ["a", "b"]}`.
    static func rule(_ option: String) -> MethodAccess? {
        guard let open = option.firstIndex(of: "{"), let close = option.lastIndex(of: "}") else { return nil }
        let body = option[option.index(after: open)..<close].trimmingCharacters(in: .whitespaces)
        if body == "public: true" { return .public }
        if body == "authenticated: true" { return .authenticated }
        guard body.hasPrefix("permissions:") else { return nil }
        return .permissions(quoted(body).sorted())
    }

    /// The method tables of `Sources/KaroKarServices/Generated`, by path.
    static func fromGenerated() throws -> [String: MethodAccess] {
        var table: [String: MethodAccess] = [:]
        for file in files(under: "Sources/KaroKarServices/Generated", ext: "swift") {
            for line in try String(contentsOf: file, encoding: .utf8).split(separator: "\n") where line.contains(", access: .") {
                let strings = quoted(String(line))
                guard strings.count >= 2, let access = line.range(of: ", access: .") else { continue }
                let rest = line[access.upperBound...]
                let rule: MethodAccess? = rest.hasPrefix("public") ? .public
                    : rest.hasPrefix("authenticated") ? .authenticated
                    : rest.hasPrefix("permissions(") ? .permissions(Array(strings.dropFirst(2))) : nil
                table["/\(strings[0])/\(strings[1])"] = rule
            }
        }
        return table
    }

    /// The double-quoted strings of `text`, in order.
    static func quoted(_ text: String) -> [String] {
        text.split(separator: "\"", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
    }

    /// What a comment's "Permission:" says, as the rule the method should declare.
    static func documentedRule(_ text: String, path: String) -> MethodAccess? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty, path.hasPrefix("/karokar.rpc.v1.") { return .public }  // built-in services document no permission
        if trimmed.hasPrefix("none") { return .public }
        if trimmed.hasPrefix("any authenticated") { return .authenticated }
        let name = trimmed.prefix { $0.isLetter || $0 == "." || $0 == "_" }.trimmingCharacters(in: CharacterSet(charactersIn: "."))
        guard Permission(rawValue: name) != nil else { return nil }
        if trimmed.lowercased().contains("employee"), Permission(rawValue: name + "_own") != nil { return .permissions([name, name + "_own"]) }
        return .permissions([name])
    }
}

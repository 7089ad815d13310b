import Foundation
import Testing

/// The one shape of a context (Sources/README.md), checked on every context, present and
/// future: its front door, its folders, what each layer may import, no SQL at the RPC edge,
/// and an access rule declared for every method of every service.
@Suite("Architecture: the shape of a context")
struct LayerTests {
    typealias Boundary = ContextBoundaryTests

    /// The folders a context has, and the modules each may never import.
    static let forbidden: [String: Set<String>] = [
        "Domain": ["KaroKarPostgres", "KaroKarMessages", "KaroKarServices", "KaroKarRPC", "KaroKarRPCServer", "KaroKarProto"],
        "Persistence": ["KaroKarMessages", "KaroKarServices", "KaroKarRPC", "KaroKarRPCServer", "KaroKarProto"],
        "Application": ["KaroKarServices", "KaroKarRPC", "KaroKarRPCServer"],
        "RPC": ["KaroKarPostgres"],
    ]

    /// What the RPC layer may not say: SQL, transactions, the pool.
    static let sqlMarkers = ["UnitOfWork", "PostgresPool", ".query(", "SQL(", "Queryable"]

    /// The violations of one file at `folder` of a context importing `modules` with `text`.
    static func violations(folder: String, file: String, text: String) -> [String] {
        guard let banned = forbidden[folder] else {
            return folder.isEmpty ? [] : ["\(file): \(folder)/ is not a layer (Domain, Application, Persistence, RPC)"]
        }
        var found = Boundary.imports(in: text).filter(banned.contains).map { "\(file): \(folder)/ imports \($0)" }
        if folder == "RPC" {
            let code = text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//") }.joined(separator: "\n")
            found += sqlMarkers.filter(code.contains).map { "\(file): the RPC layer touches SQL (\($0))" }
        }
        return found
    }

    /// The first path component under the context's folder ("" for a file at its root).
    static func folder(of file: URL, in context: String) -> String {
        let base = Boundary.root.appendingPathComponent("Sources/\(context)").standardizedFileURL.path + "/"
        let relative = file.standardizedFileURL.path.replacingOccurrences(of: base, with: "")
        let parts = relative.split(separator: "/")
        return parts.count > 1 ? String(parts[0]) : ""
    }

    @Test func eachLayerImportsOnlyWhatItMay() throws {
        for context in Boundary.contexts {
            for file in Boundary.swiftFiles(of: context) {
                let text = try String(contentsOf: file, encoding: .utf8)
                let name = "\(context)/\(file.lastPathComponent)"
                for violation in Self.violations(folder: Self.folder(of: file, in: context), file: name, text: text) {
                    Issue.record(Comment(rawValue: violation))
                }
            }
        }
    }

    @Test func eachContextHasOneFrontDoorActor() throws {
        for context in Boundary.contexts {
            let name = String(context.dropLast("Context".count))
            let door = Boundary.root.appendingPathComponent("Sources/\(context)/\(name).swift")
            let text = try? String(contentsOf: door, encoding: .utf8)
            #expect(text?.contains("public actor \(name): BoundedContext") == true, "\(context) needs Sources/\(context)/\(name).swift declaring `public actor \(name): BoundedContext`")
            #expect(FileManager.default.fileExists(atPath: Boundary.root.appendingPathComponent("Sources/\(context)/README.md").path), "\(context) states its rules in a README")
        }
    }

    @Test func theCheckerCatchesWrongImportsAndSQL() {
        #expect(Self.violations(folder: "Persistence", file: "S.swift", text: "import KaroKarMessages\nimport KaroKarPostgres").count == 1)
        #expect(Self.violations(folder: "Domain", file: "D.swift", text: "import Foundation\npublic import KaroKarPostgres").count == 1)
        #expect(Self.violations(folder: "RPC", file: "H.swift", text: "import KaroKarKernel\nlet rows = try await work.query(sql)").count == 1)
        #expect(Self.violations(folder: "RPC", file: "H.swift", text: "// a UnitOfWork is opened by the use case\nimport KaroKarRPC").isEmpty)
        #expect(Self.violations(folder: "Access", file: "A.swift", text: "").count == 1)
        #expect(Self.violations(folder: "Application", file: "U.swift", text: "import KaroKarMessages\nimport KaroKarPostgres").isEmpty)
    }

    // MARK: - Access rules

    /// `rpc` declarations of a `.proto` without the access option in their body.
    static func methodsWithoutAccessRule(in proto: String) -> [String] {
        var missing: [String] = []
        let lines = proto.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (index, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("rpc "), let name = trimmed.dropFirst(4).split(separator: "(").first else { continue }
            let body = trimmed.hasSuffix(";") ? "" : lines[(index + 1)...].prefix { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("}") }.joined()
            if !body.contains("(karokar.options.v1.access)") { missing.append(String(name)) }
        }
        return missing
    }

    static var protoFiles: [URL] {
        let folder = Boundary.root.appendingPathComponent("Protos/karokar")
        let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)
        return (enumerator?.allObjects as? [URL] ?? []).filter { $0.pathExtension == "proto" }
    }

    @Test func everyMethodDeclaresAnAccessRule() throws {
        var methods = 0
        for file in Self.protoFiles {
            let text = try String(contentsOf: file, encoding: .utf8)
            methods += text.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("rpc ") }.count
            for method in Self.methodsWithoutAccessRule(in: text) {
                Issue.record("\(file.lastPathComponent): rpc \(method) declares no (karokar.options.v1.access) rule")
            }
        }
        #expect(methods > 100, "the protos were found")
    }

    /// Permission names of the kernel's catalogue (`case x = "resource.action"`).
    static var permissionCatalogue: Set<String> {
        let file = Boundary.root.appendingPathComponent("Sources/KaroKarKernel/Access/Permission.swift")
        let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        return Set(text.split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: "\"", omittingEmptySubsequences: false)
            return line.contains("case ") && parts.count == 3 ? String(parts[1]) : nil
        })
    }

    @Test func everyDeclaredPermissionIsInTheCatalogue() throws {
        let catalogue = Self.permissionCatalogue
        #expect(catalogue.contains("vehicle.read"))
        let generated = Boundary.root.appendingPathComponent("Sources/KaroKarServices/Generated")
        for name in try FileManager.default.contentsOfDirectory(atPath: generated.path) {
            let text = try String(contentsOf: generated.appendingPathComponent(name), encoding: .utf8)
            for line in text.split(separator: "\n") where line.contains("access: .permissions([") {
                let names = line.split(separator: "\"").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
                for permission in names.dropFirst(2) {  // service and method names come first
                    #expect(catalogue.contains(permission), "\(name): \(permission) is not a permission of the catalogue")
                }
            }
        }
    }

    @Test func theRuleCheckerCatchesAMethodWithoutARule() {
        let proto = """
            service S {
              rpc A(X) returns (Y) {
                option (karokar.options.v1.access) = {public: true};
              }
              rpc B(X) returns (Y);
              rpc C(X) returns (Y) {
              }
            }
            """
        #expect(Self.methodsWithoutAccessRule(in: proto) == ["B", "C"])
    }
}

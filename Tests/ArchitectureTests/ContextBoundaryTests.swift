import Foundation
import Testing

/// ARCHITECTURE.md item 8: one target per bounded context; contexts depend on the shared kernel
/// and never on each other. Checked twice: the package graph (Package.swift) and every source
/// file's imports, so that neither a dependency nor an import can sneak in.
@Suite("Architecture: context boundaries")
struct ContextBoundaryTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// What any context may import: the shared kernel, the standard library's neighbours, logging.
    static let kernel: Set<String> = [
        "KaroKarKernel", "KaroKarPostgres", "KaroKarMessages", "KaroKarServices", "KaroKarRPC", "KaroKarProto", "Logging",
        "Foundation", "Synchronization",
    ]
    /// What one context needs beyond that, and why.
    static let extras: [String: Set<String>] = [
        // Tokens and password hashing; the interceptor's ByteBuffer; a thread pool for hashing.
        "IdentityContext": ["Crypto", "CryptoExtras", "ExtrasBase64", "NIOCore", "NIOPosix", "NIOConcurrencyHelpers"],
        // The HTTP provider: a maintained HTTP client, its buffers and methods, the HMAC signature.
        "VerificationContext": ["AsyncHTTPClient", "Crypto", "NIOCore", "NIOHTTP1"],
        // The senders: SMTP over SwiftNIO (STARTTLS with NIOSSL), SMS and push with a maintained HTTP client (HMAC
        // signatures); the message templates (swift-mustache).
        "NotificationContext": ["AsyncHTTPClient", "Crypto", "NIOCore", "NIOPosix", "NIOHTTP1", "NIOSSL", "Mustache"],
        // The hash chain's SHA-256, computed as records are appended.
        "AuditContext": ["Crypto"],
    ]

    static var contexts: [String] {
        let sources = root.appendingPathComponent("Sources")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: sources.path)) ?? []
        return names.filter { $0.hasSuffix("Context") }.sorted()
    }

    static func swiftFiles(of context: String) -> [URL] {
        let folder = root.appendingPathComponent("Sources/\(context)")
        let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)
        return (enumerator?.allObjects as? [URL] ?? []).filter { $0.pathExtension == "swift" }
    }

    /// `import X`, `public import X`, `@testable import X`, `import struct X.Y`: the module `X`.
    static func imports(in text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            let words = line.trimmingCharacters(in: .whitespaces).split(separator: " ").map(String.init)
            guard let index = words.firstIndex(of: "import"), words[..<index].allSatisfy({ $0.hasPrefix("@") || ["public", "internal", "package", "private", "fileprivate"].contains($0) }),
                  index + 1 < words.count
            else { return nil }
            let rest = words[(index + 1)...]
            let kinds: Set<String> = ["struct", "class", "enum", "protocol", "func", "var", "let", "typealias"]
            let module = (kinds.contains(rest.first!) ? rest.dropFirst().first : rest.first) ?? ""
            return String(module.split(separator: ".").first ?? "")
        }
    }

    @Test func thereAreContextsToCheck() {
        #expect(Self.contexts.contains("IdentityContext"))
        #expect(Self.contexts.contains("AdministrationContext"))
    }

    @Test func contextsImportOnlyTheKernel() throws {
        for context in Self.contexts {
            let allowed = Self.kernel.union(Self.extras[context] ?? [])
            let files = Self.swiftFiles(of: context)
            #expect(!files.isEmpty, "\(context) has sources")
            for file in files {
                let text = try String(contentsOf: file, encoding: .utf8)
                for module in Self.imports(in: text) {
                    #expect(allowed.contains(module), "\(context)/\(file.lastPathComponent) imports \(module)")
                    #expect(module == context || !module.hasSuffix("Context"), "\(context) imports another context: \(module)")
                }
            }
        }
    }

    @Test func packageGraphHasNoEdgeBetweenContexts() throws {
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        for context in Self.contexts {
            guard let start = manifest.range(of: "name: \"\(context)\"") else {
                Issue.record("\(context) is not a target in Package.swift")
                continue
            }
            let tail = manifest[start.upperBound...]
            let end = tail.range(of: ".target(")?.lowerBound ?? tail.range(of: "// MARK:")?.lowerBound ?? tail.endIndex
            let declaration = tail[..<end]
            for other in Self.contexts where other != context {
                #expect(!declaration.contains("\"\(other)\""), "\(context) depends on \(other) in Package.swift")
            }
        }
    }

    @Test func contextFilesStaySmall() throws {
        for context in Self.contexts {
            for file in Self.swiftFiles(of: context) {
                let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).count
                #expect(lines <= 300, "\(context)/\(file.lastPathComponent) has \(lines) lines")
            }
        }
    }

    @Test func theImportParserSeesEveryForm() {
        let text = "import A\npublic import B\n@testable import C\nimport struct D.Thing\n// import E\nlet importer = 1\n  internal import F"
        #expect(Self.imports(in: text) == ["A", "B", "C", "D", "F"])
    }
}

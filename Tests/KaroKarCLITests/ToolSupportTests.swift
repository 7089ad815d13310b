import Foundation
import KaroKarMessages
import KaroKarRPC
import KaroKarToolSupport
import Testing

@Suite("Command-line parsing and error text")
struct ToolSupportTests {
    @Test func addresses() throws {
        #expect(try ServerAddress(parsing: "127.0.0.1:7420") == ServerAddress(host: "127.0.0.1", port: 7420))
        #expect(try ServerAddress(parsing: "localhost") == ServerAddress(host: "localhost", port: 7420))
        #expect(try ServerAddress(parsing: "[::1]:7500") == ServerAddress(host: "::1", port: 7500))
        #expect(try ServerAddress(parsing: "[::1]:7500").description == "[::1]:7500")
        for bad in ["", ":7420", "host:0", "host:70000", "host:x", "::1:7420", "[::1", "[::1]x"] {
            #expect(throws: ToolError.self, "\(bad)") { try ServerAddress(parsing: bad) }
        }
    }

    @Test func methods() throws {
        let reference = try MethodReference(parsing: "/karokar.rpc.v1.HealthService/Check")
        #expect(try reference == MethodReference(parsing: "karokar.rpc.v1.HealthService/Check"))
        #expect(reference.path == "/karokar.rpc.v1.HealthService/Check")
        let resolved = try MethodCatalog.resolve(reference)
        #expect(resolved.requestType == "karokar.rpc.v1.CheckRequest" && resolved.responseType == "karokar.rpc.v1.CheckResponse")
        for bad in ["Check", "a/b/c", "/x/", "karokar.rpc.v1.HealthService/Nope", "no.Service/Check"] {
            #expect(throws: ToolError.self, "\(bad)") { try MethodCatalog.resolve(MethodReference(parsing: bad)) }
        }
    }

    @Test func durations() throws {
        #expect(try DurationText.parse("250ms") == .milliseconds(250))
        #expect(try DurationText.parse("1.5s") == .milliseconds(1500))
        #expect(try DurationText.parse("2") == .seconds(2))
        #expect(try DurationText.parse("2m") == .seconds(120))
        #expect(try DurationText.parse("80us") == .microseconds(80))
        #expect(try DurationText.parse("0") == .zero)
        for bad in ["", "ms", "-1s", "1x", "nan", "1e30s"] {
            #expect(throws: ToolError.self, "\(bad)") { try DurationText.parse(bad) }
        }
        #expect(DurationText.format(.milliseconds(1500)) == "1.5s")
        #expect(DurationText.format(.microseconds(80)) == "80µs")
    }

    @Test func metadata() throws {
        let metadata = try MetadataText.parse(["request-id: abc", "x.y_z=1=2", "empty:"])
        #expect(metadata["request-id"] == "abc" && metadata["x.y_z"] == "1=2" && metadata["empty"] == "")
        for bad in [["Upper: x"], ["no separator"], ["a: 1", "a: 2"], [": x"], [String(repeating: "k", count: 65) + ": x"]] {
            #expect(throws: ToolError.self, "\(bad)") { try MetadataText.parse(bad) }
        }
    }

    @Test func statusTextNamesCodeDomainCodeAndViolations() {
        let error = RPCError(.invalidArgument, "the request has 1 invalid field(s)", details: CommonV1.ErrorDetails(
            domainCode: "VALIDATION_FAILED",
            fieldViolations: [CommonV1.FieldViolation(field: "period.end", code: "OUT_OF_RANGE", description: "end must be after start")],
            retryInfo: CommonV1.RetryInfo(retryDelayMillis: 250)
        ))
        #expect(StatusText.describe(error) == """
            INVALID_ARGUMENT (code 3): the request has 1 invalid field(s)
              domain code: VALIDATION_FAILED
              field violations:
                period.end: end must be after start [OUT_OF_RANGE]
              retry after: 250 ms
            """)
        #expect(StatusText.name(of: RPCCode(rawValue: 99)) == "CODE_99")
    }

    @Test func exitStatuses() {
        #expect(ExitStatus.forCode(.ok) == 0)
        #expect(ExitStatus.forCode(.cancelled) == 65)
        #expect(ExitStatus.forCode(.notFound) == 69)
        #expect(ExitStatus.forCode(.unavailable) == 78)
        #expect(ExitStatus.forCode(.unauthenticated) == 80)
        #expect(ExitStatus.forCode(RPCCode(rawValue: 99)) == 66, "an unknown code counts as UNKNOWN")
    }
}

@Suite("Credentials file")
struct CredentialStoreTests {
    @Test func locationFollowsXDGThenHome() throws {
        #expect(try CredentialStore(environment: ["XDG_CONFIG_HOME": "/x/config", "HOME": "/home/u"]).path == "/x/config/karokar/credentials.json")
        #expect(try CredentialStore(environment: ["XDG_CONFIG_HOME": "relative", "HOME": "/home/u"]).path == "/home/u/.config/karokar/credentials.json")
        #expect(try CredentialStore(environment: ["HOME": "/home/u"]).path == "/home/u/.config/karokar/credentials.json")
        #expect(throws: ToolError.self) { try CredentialStore(environment: [:]) }
    }

    @Test func savesPerServerWithOwnerOnlyPermissions() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let store = try CredentialStore(environment: ["XDG_CONFIG_HOME": scratch.path])
        let local = ServerAddress.default, other = ServerAddress(host: "10.0.0.1", port: 7420)
        #expect(try store.credentials(for: local) == nil)
        let credentials = StoredCredentials(accessToken: "tok", refreshToken: "ref", accessTokenExpiresAt: 1_900_000_000, userID: "u1", organizationID: "o1")
        try store.save(credentials, for: local)
        try store.save(StoredCredentials(accessToken: "other"), for: other)
        #expect(try store.credentials(for: local) == credentials)
        #expect(try store.credentials(for: other)?.accessToken == "other")
        #expect(try permissions(store.path) == 0o600)
        #expect(try permissions(store.directory) == 0o700)
        #expect(try store.remove(for: local) == credentials)
        #expect(try store.credentials(for: local) == nil && store.credentials(for: other) != nil)
    }

    @Test func aDamagedFileIsAClearError() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let store = CredentialStore(directory: scratch.path)
        try "not json".write(toFile: store.path, atomically: true, encoding: .utf8)
        #expect(throws: ToolError.self) { try store.credentials(for: .default) }
    }

    private func permissions(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int ?? -1) & 0o777
    }
}

public import Foundation

/// A throwaway PKI made with the `openssl` command (Deploy/install-deps.sh installs it) in a
/// fresh directory: two unrelated CAs, a server certificate for `localhost` and 127.0.0.1, and
/// client certificates, each with its P-256 key.
public struct TestCertificates: Sendable {
    public let directory: String

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// `<name>.pem` and `<name>.key` in the directory.
    public func certificate(_ name: String) -> String { directory + "/" + name + ".pem" }
    public func key(_ name: String) -> String { directory + "/" + name + ".key" }

    /// `ca` and `other-ca`; `server` (CN=localhost, for localhost and 127.0.0.1), `named` (for
    /// localhost only) and `client` (CN=billing) from `ca`;
    /// `stranger` (CN=stranger) from `other-ca`; `server-encrypted.key`, the server key under the
    /// passphrase `hunter2`.
    public static func make() throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("karokar-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let pki = TestCertificates(directory: directory)
        for ca in ["ca", "other-ca"] {
            try pki.openssl([
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", pki.key(ca),
                "-out", pki.certificate(ca), "-days", "2", "-subj", "/CN=KaroKar test \(ca)",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        }
        try pki.issue("server", commonName: "localhost", by: "ca", extensions: "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        try pki.issue("named", commonName: "localhost", by: "ca", extensions: "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n")
        try pki.issue("client", commonName: "billing", by: "ca", extensions: "extendedKeyUsage=clientAuth\n")
        try pki.issue("stranger", commonName: "stranger", by: "other-ca", extensions: "extendedKeyUsage=clientAuth\n")
        try pki.openssl(["pkey", "-in", pki.key("server"), "-aes256", "-passout", "pass:hunter2", "-out", directory + "/server-encrypted.key"])
        return pki
    }

    private func issue(_ name: String, commonName: String, by ca: String, extensions: String) throws {
        try openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key(name),
            "-out", directory + "/\(name).csr", "-subj", "/CN=\(commonName)",
        ])
        let extensionFile = directory + "/\(name).ext"
        try ("basicConstraints=CA:FALSE\n" + extensions).write(toFile: extensionFile, atomically: true, encoding: .utf8)
        try openssl([
            "x509", "-req", "-in", directory + "/\(name).csr", "-CA", certificate(ca), "-CAkey", key(ca), "-CAcreateserial",
            "-out", certificate(name), "-days", "2", "-extfile", extensionFile,
        ])
    }

    private func openssl(_ arguments: [String]) throws {
        let outcome = try ChildProcess.runBlocking(URL(fileURLWithPath: "/usr/bin/env"), ["openssl"] + arguments, timeout: .seconds(60))
        guard outcome.status == 0 else {
            throw Failure(description: "openssl \(arguments.joined(separator: " ")) failed: \(outcome)")
        }
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

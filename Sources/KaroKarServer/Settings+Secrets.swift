import Foundation

/// Secrets never come from a flag: a command line shows in the process list (`ps`, `/proc/PID/cmdline`)
/// to every user of the machine, and ends up in shell histories and unit files. They come from a
/// `KAROKAR_*` environment variable, the config file, or a `-file` setting that names a file
/// holding them (Docker and systemd credentials, Kubernetes secrets).
extension ServerSettings {
    /// The settings whose values are secrets.
    public static let secretSettings: Set<String> = [
        "database-password", "token-signing-key", "bootstrap-admin-password", "verification-http-provider-secret",
        "notification-smtp-password", "notification-sms-secret", "notification-push-secret", "tls-key-passphrase",
    ]

    /// Refuses a flag that names no setting, a secret given as a flag, and a database URL flag
    /// that holds a password. Messages name the flag, never its value.
    static func checkFlags(_ flags: [String: String]) throws {
        for (name, value) in flags.sorted(by: { $0.key < $1.key }) {
            let spec = SettingSpec(name: name, help: "", defaultValue: "")
            guard specs.contains(where: { $0.name == name }) else {
                throw Invalid(description: "\(spec.flag): unknown setting (karokar-server --help lists them)")
            }
            if secretSettings.contains(name) {
                throw Invalid(description: "\(spec.flag): a secret is never a flag (it would show in the process list): use \(spec.environmentVariable) or \(name)-file")
            }
            if name == "database-url", holdsPassword(value) {
                throw Invalid(description: "\(spec.flag): the URL holds a password, and a flag would show it in the process list: give the URL in KAROKAR_DATABASE_URL or the config file, or the password in KAROKAR_DATABASE_PASSWORD or database-password-file")
            }
        }
    }

    /// Whether a libpq URI (`postgresql://user:password@host/db`) or key=value string holds a password.
    static func holdsPassword(_ connectionString: String) -> Bool {
        if let scheme = connectionString.range(of: "://") {
            let rest = connectionString[scheme.upperBound...]
            let authority = rest.prefix { $0 != "/" && $0 != "?" }
            if let at = authority.lastIndex(of: "@"), authority[..<at].contains(":") { return true }
            let query = rest.drop { $0 != "?" }
            return query.split(separator: "&").contains { $0.hasPrefix("?password=") || $0.hasPrefix("password=") }
        }
        return connectionString.range(of: #"(^|\s)password\s*="#, options: .regularExpression) != nil
    }

    /// `database-url` with `database-password` added (libpq: a later `password` wins).
    public var databaseConnectionString: String {
        guard let password = databasePassword, !databaseURL.isEmpty else { return databaseURL }
        if databaseURL.contains("://") {
            let encoded = password.utf8.map { byte -> String in
                let character = Character(Unicode.Scalar(byte))
                return (byte < 0x80 && (character.isLetter || character.isNumber || "-._~".contains(character)))
                    ? String(character) : "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }.joined()
            return databaseURL + (databaseURL.contains("?") ? "&" : "?") + "password=" + encoded
        }
        let quoted = password.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
        return databaseURL + " password='" + quoted + "'"
    }
}

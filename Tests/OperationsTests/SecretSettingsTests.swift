import KaroKarServer
import Testing

/// Configuration (issue 20): flags > environment > config file > defaults; secrets only from the
/// environment, the config file or a `-file` setting, never a flag; every message checked.
@Suite("Settings: precedence and secrets")
struct SecretSettingsTests {
    static func resolve(
        flags: [String: String] = [:], environment: [String: String] = [:], file: String? = nil, files: [String: String] = [:]
    ) throws -> ServerSettings {
        try ServerSettings.resolve(flags: flags, environment: environment, configFile: file == nil ? nil : "karokar.json") { path in
            if path == "karokar.json", let file { return Array(file.utf8) }
            guard let text = files[path] else { throw Missing() }
            return Array(text.utf8)
        }
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String { "No such file or directory" }
    }

    static func error(flags: [String: String] = [:], environment: [String: String] = [:], file: String? = nil, files: [String: String] = [:]) -> String {
        do {
            _ = try resolve(flags: flags, environment: environment, file: file, files: files)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test("precedence of an ordinary setting: flag over environment over file over default")
    func precedence() throws {
        let file = #"{"port": 7001, "database-pool-size": 3}"#
        #expect(try Self.resolve().port == 7420)
        #expect(try Self.resolve(file: file).port == 7001)
        #expect(try Self.resolve(environment: ["KAROKAR_PORT": "7002"], file: file).port == 7002)
        #expect(try Self.resolve(flags: ["port": "7003"], environment: ["KAROKAR_PORT": "7002"], file: file).port == 7003)
        #expect(try Self.resolve(flags: ["port": "7003"], environment: ["KAROKAR_PORT": "7002"], file: file).databasePoolSize == 3)
    }

    @Test("every secret given as a flag is refused, naming the variable and the -file setting, never echoing the value")
    func secretFlagsAreRefused() {
        for name in ServerSettings.secretSettings.sorted() {
            let variable = "KAROKAR_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
            let message = Self.error(flags: [name: "s3cr3t-value"])
            #expect(message == "--\(name): a secret is never a flag (it would show in the process list): use \(variable) or \(name)-file")
            #expect(!message.contains("s3cr3t-value"))
            #expect(ServerSettings.specs.contains { $0.name == name + "-file" }, "\(name) has its -file setting")
        }
    }

    @Test("secrets from the environment, the config file and a -file setting are taken; both a value and a file are refused")
    func secretSources() throws {
        let url = "postgresql://karokar@db.internal:5432/karokar"
        #expect(try Self.resolve(flags: ["database-url": url], environment: ["KAROKAR_DATABASE_PASSWORD": "from-env"]).databasePassword == "from-env")
        #expect(try Self.resolve(file: #"{"database-url": "\#(url)", "database-password": "from-file"}"#).databasePassword == "from-file")
        let fromSecretFile = try Self.resolve(
            flags: ["database-url": url, "database-password-file": "/run/secrets/db"], files: ["/run/secrets/db": "from-secret-file\n"]
        )
        #expect(fromSecretFile.databasePassword == "from-secret-file")
        #expect(Self.error(flags: ["database-url": url, "database-password-file": "/run/secrets/db"], environment: ["KAROKAR_DATABASE_PASSWORD": "x"],
                           files: ["/run/secrets/db": "y"]) == "--database-password-file: set database-password or database-password-file, not both")
        #expect(Self.error(flags: ["database-url": url, "database-password-file": "/run/secrets/none"])
            == "--database-password-file: cannot read /run/secrets/none")
        #expect(Self.error(environment: ["KAROKAR_DATABASE_PASSWORD": "x"])
            == "database-password is set but database-url is empty (the private cluster needs none)")
        let smtp = try Self.resolve(
            flags: ["notification-smtp-host": "mail", "notification-smtp-username": "u"], environment: ["KAROKAR_NOTIFICATION_SMTP_PASSWORD": "p"]
        )
        #expect(smtp.notification.smtp?.authentication == .password(username: "u", password: "p"))
    }

    @Test("a database URL flag holding a password is refused; in the environment or the file it is taken")
    func databaseURLWithPassword() throws {
        let refusal = "--database-url: the URL holds a password, and a flag would show it in the process list: give the URL in KAROKAR_DATABASE_URL or the config file, or the password in KAROKAR_DATABASE_PASSWORD or database-password-file"
        #expect(Self.error(flags: ["database-url": "postgresql://karokar:hunter2@db/karokar"]) == refusal)
        #expect(Self.error(flags: ["database-url": "postgres://db/karokar?user=karokar&password=hunter2"]) == refusal)
        #expect(Self.error(flags: ["database-url": "host=db user=karokar password=hunter2"]) == refusal)
        #expect(Self.error(flags: ["database-url": "host=db user=karokar password = hunter2"]) == refusal)
        #expect(Self.error(flags: ["database-url": "postgresql://karokar@db/karokar"]) == "no error")
        #expect(Self.error(flags: ["database-url": "host=/tmp user=karokar dbname=karokar"]) == "no error")
        #expect(try Self.resolve(environment: ["KAROKAR_DATABASE_URL": "postgresql://karokar:hunter2@db/karokar"]).databaseURL.contains("hunter2"))
    }

    @Test("the password is added to the URL libpq reads, encoded")
    func connectionString() throws {
        func connection(_ url: String, _ password: String?) throws -> String {
            try Self.resolve(environment: ["KAROKAR_DATABASE_URL": url].merging(password.map { ["KAROKAR_DATABASE_PASSWORD": $0] } ?? [:]) { $1 })
                .databaseConnectionString
        }
        #expect(try connection("postgresql://karokar@db/karokar", nil) == "postgresql://karokar@db/karokar")
        #expect(try connection("postgresql://karokar@db/karokar", "p@ss w/rd&x=1") == "postgresql://karokar@db/karokar?password=p%40ss%20w%2Frd%26x%3D1")
        #expect(try connection("postgresql://karokar@db/karokar?sslmode=require", "pw") == "postgresql://karokar@db/karokar?sslmode=require&password=pw")
        #expect(try connection("host=db user=karokar", #"it's \ here"#) == #"host=db user=karokar password='it\'s \\ here'"#)
    }

    @Test("an unknown flag is refused (a typo would otherwise be ignored)")
    func unknownFlag() {
        #expect(Self.error(flags: ["idle-timout-ms": "1000"]) == "--idle-timout-ms: unknown setting (karokar-server --help lists them)")
        #expect(Self.error(file: #"{"idle-timout-ms": 1000}"#) == #"karokar.json: unknown setting "idle-timout-ms""#)
    }
}

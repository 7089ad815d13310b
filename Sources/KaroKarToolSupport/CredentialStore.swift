import KaroKarProto

/// What `karokar login` keeps for one server.
public struct StoredCredentials: Hashable, Sendable {
    public var accessToken: String
    public var refreshToken: String
    /// Unix seconds; 0 when the server did not say.
    public var accessTokenExpiresAt: Int64
    public var userID: String
    public var organizationID: String

    public init(accessToken: String, refreshToken: String = "", accessTokenExpiresAt: Int64 = 0, userID: String = "", organizationID: String = "") {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.accessTokenExpiresAt = accessTokenExpiresAt
        self.userID = userID
        self.organizationID = organizationID
    }
}

/// The per-user credentials file, `$XDG_CONFIG_HOME/karokar/credentials.json` (or
/// `~/.config/karokar/credentials.json`): tokens by server address, readable by the user only
/// (directory 0700, file 0600, replaced atomically).
public struct CredentialStore: Sendable {
    public let directory: String
    public var path: String { directory + "/credentials.json" }

    public init(directory: String) {
        self.directory = directory
    }

    /// The store for this user, from `XDG_CONFIG_HOME` or `HOME`.
    public init(environment: [String: String]) throws(ToolError) {
        if let config = environment["XDG_CONFIG_HOME"], config.hasPrefix("/") {
            self.init(directory: config + "/karokar")
        } else if let home = environment["HOME"], !home.isEmpty {
            self.init(directory: home + "/.config/karokar")
        } else {
            throw ToolError("neither XDG_CONFIG_HOME nor HOME is set: no place for the credentials file")
        }
    }

    // MARK: - Reading and writing

    public func credentials(for address: ServerAddress) throws(ToolError) -> StoredCredentials? {
        try load()[address.description]
    }

    public func save(_ credentials: StoredCredentials, for address: ServerAddress) throws(ToolError) {
        var all = try load()
        all[address.description] = credentials
        try write(all)
    }

    /// Forgets the server's credentials; returns what was stored.
    @discardableResult
    public func remove(for address: ServerAddress) throws(ToolError) -> StoredCredentials? {
        var all = try load()
        let removed = all.removeValue(forKey: address.description)
        if removed != nil { try write(all) }
        return removed
    }

    private func load() throws(ToolError) -> [String: StoredCredentials] {
        guard let bytes = try SecureFile.read(path) else { return [:] }
        do {
            return try CredentialsFile.decode(JSONParser.parse(bytes))
        } catch {
            throw ToolError("\(path) is not a valid credentials file (\(error)); delete it and log in again")
        }
    }

    private func write(_ all: [String: StoredCredentials]) throws(ToolError) {
        try SecureFile.makeDirectory(directory)
        try SecureFile.replace(path, with: Array(CredentialsFile.encode(all).prettyJSONText.utf8) + [0x0A])
    }
}

/// The file's JSON layout: `{"servers": {"HOST:PORT": {"accessToken": ..., ...}}}`.
enum CredentialsFile {
    static func encode(_ all: [String: StoredCredentials]) -> JSONValue {
        .object([JSONMember("servers", .object(all.keys.sorted().map { JSONMember($0, encode(all[$0]!)) }))])
    }

    static func decode(_ json: JSONValue) throws -> [String: StoredCredentials] {
        guard case .object(let servers)? = json["servers"] else { throw ToolError("no \"servers\" object") }
        var all: [String: StoredCredentials] = [:]
        for server in servers {
            all[server.key] = try decode(server.value)
        }
        return all
    }

    private static func encode(_ credentials: StoredCredentials) -> JSONValue {
        .object([
            JSONMember("accessToken", .string(credentials.accessToken)),
            JSONMember("refreshToken", .string(credentials.refreshToken)),
            JSONMember("accessTokenExpiresAt", .string(String(credentials.accessTokenExpiresAt))),
            JSONMember("userId", .string(credentials.userID)),
            JSONMember("organizationId", .string(credentials.organizationID)),
        ])
    }

    private static func decode(_ json: JSONValue) throws -> StoredCredentials {
        guard case .string(let token)? = json["accessToken"], !token.isEmpty else { throw ToolError("an entry has no accessToken") }
        return StoredCredentials(
            accessToken: token,
            refreshToken: try json["refreshToken"].map(String.init(protoJSON:)) ?? "",
            accessTokenExpiresAt: try json["accessTokenExpiresAt"].map(Int64.init(protoJSON:)) ?? 0,
            userID: try json["userId"].map(String.init(protoJSON:)) ?? "",
            organizationID: try json["organizationId"].map(String.init(protoJSON:)) ?? ""
        )
    }
}

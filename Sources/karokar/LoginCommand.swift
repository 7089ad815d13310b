import ArgumentParser
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarToolSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `karokar login`: IdentityService/Login, then the token is stored for this server and sent by
/// later commands as `authorization: Bearer <token>`.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Log in and store the access token for later calls to this server.",
        discussion: "The token is kept in $XDG_CONFIG_HOME/karokar/credentials.json (or ~/.config/karokar/), mode 0600."
    )

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "The user's e-mail address.") var email: String
    @Option(help: "The organization to act for; may be omitted when the user has one active membership.")
    var organizationId = ""
    @Flag(help: "Read the password from the first line of standard input instead of prompting.")
    var passwordStdin = false

    func run() async throws {
        try await Console.run {
            let environment = Console.environment
            let store = try CredentialStore(environment: environment)
            let address = try connection.serverAddress()
            let options = try connection.callOptions(environment: environment, sendToken: false)
            let request = IdentityV1.LoginRequest(email: email, password: try password(), organizationId: organizationId)
            let response = try await connection.withClient { client in
                try await IdentityV1.IdentityService.Client(client).login(request, options: options)
            }
            let credentials = try Self.credentials(from: response)
            try store.save(credentials, for: address)
            print("logged in to \(address) as user \(response.userId) for organization \(response.organizationId); token stored in \(store.path)")
        }
    }

    static func credentials(from response: IdentityV1.LoginResponse) throws(ToolError) -> StoredCredentials {
        guard let grant = response.grant, !grant.accessToken.isEmpty else {
            throw ToolError("the server answered Login without an access token")
        }
        return StoredCredentials(
            accessToken: grant.accessToken, refreshToken: grant.refreshToken,
            accessTokenExpiresAt: grant.accessTokenExpiresAt?.seconds ?? 0,
            userID: response.userId, organizationID: response.organizationId
        )
    }

    private func password() throws(ToolError) -> String {
        if passwordStdin {
            let line = try TextInput.standardInput().split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            return String(line.hasSuffix("\r") ? line.dropLast() : line)
        }
        guard TextInput.standardInputIsTerminal, let typed = getpass("Password: ") else {
            throw ToolError("no terminal to ask for the password; pass it on standard input with --password-stdin")
        }
        return String(cString: typed)
    }
}

/// `karokar logout`: revokes the stored refresh token on the server and forgets the credentials.
struct LogoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logout", abstract: "Forget the token stored for this server (and revoke its refresh token)."
    )

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await Console.run {
            let store = try CredentialStore(environment: Console.environment)
            let address = try connection.serverAddress()
            guard let removed = try store.remove(for: address) else {
                print("no token stored for \(address)")
                return
            }
            print("forgot the token for \(address)")
            guard !removed.refreshToken.isEmpty else { return }
            try await revoke(removed)
        }
    }

    /// Best effort: the local token is gone either way; a failed revocation is reported.
    private func revoke(_ credentials: StoredCredentials) async throws {
        var options = try connection.callOptions(environment: [:], sendToken: false)
        options.metadata[Metadata.Key.authorization] = "Bearer \(credentials.accessToken)"
        do {
            _ = try await connection.withClient { client in
                try await IdentityV1.IdentityService.Client(client).logout(IdentityV1.LogoutRequest(refreshToken: credentials.refreshToken), options: options)
            }
        } catch let error as RPCError {
            Console.error("warning: the server did not revoke the refresh token: " + StatusText.describe(error))
        }
    }
}

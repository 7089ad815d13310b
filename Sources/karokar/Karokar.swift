import ArgumentParser

/// `karokar`: the command line for KaroKar RPC servers, like grpcurl: list, describe, call, login.
@main
struct Karokar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "karokar",
        abstract: "Call KaroKar RPC servers from the command line.",
        discussion: """
            Requests and replies are JSON in protobuf's canonical JSON mapping.
            Exit status: 0 success, 1 local failure (bad input, unknown method), 64 usage error,
            64 + status code when the call fails (65 CANCELLED ... 78 UNAVAILABLE, 80 UNAUTHENTICATED).
            Shell completion: karokar --generate-completion-script bash|zsh|fish
            """,
        subcommands: [ListCommand.self, DescribeCommand.self, CallCommand.self, LoginCommand.self, LogoutCommand.self, EventsCommand.self]
    )
}

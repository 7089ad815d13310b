import ArgumentParser
import KaroKarProto
import KaroKarToolSupport

/// `karokar events ...`: the event platform's operations (karokar.events.v1.EventOperationsService),
/// for platform administrators: consumers' lag, dead letters, replay and discard, forgetting a
/// retired consumer.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Operate the event platform: consumer lag and dead letters (platform administrators).",
        subcommands: [Consumers.self, DeadLetters.self, Replay.self, Discard.self, ForgetConsumer.self]
    )

    static let service = "karokar.events.v1.EventOperationsService"

    /// One call of the service with a JSON request, its JSON reply printed.
    static func call(_ method: String, _ requestJSON: String, connection: ConnectionOptions) async throws {
        try await Console.run {
            let resolved = try MethodCatalog.resolve(MethodReference(parsing: "\(service)/\(method)"))
            let options = try connection.callOptions(environment: Console.environment)
            let reply = try await connection.withClient { client in
                try await DynamicCall.run(client, method: resolved, requestJSON: requestJSON, options: options)
            }
            print(reply.prettyJSONText)
        }
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    struct Consumers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "consumers", abstract: "Every registered consumer with its lag (pending, dead, oldest pending age, cursor)."
        )
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await EventsCommand.call("ListConsumers", "{}", connection: connection)
        }
    }

    struct DeadLetters: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "dead-letters", abstract: "Dead deliveries, oldest first.")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Only this consumer's.") var consumer: String?
        @Option(help: "Only sequence numbers after this one (paging).") var after: Int64 = 0
        @Option(help: "At most this many (1 to 1000).") var limit: Int32 = 100

        func run() async throws {
            let consumerField = consumer.map { "\"consumer\": \(EventsCommand.quoted($0)), " } ?? ""
            try await EventsCommand.call(
                "ListDeadLetters", "{\(consumerField)\"afterSequence\": \"\(after)\", \"limit\": \(limit)}", connection: connection
            )
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "replay", abstract: "Make a dead delivery due again now, with a fresh attempt budget."
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The consumer.") var consumer: String
        @Argument(help: "The event's sequence number (from dead-letters).") var sequence: Int64

        func run() async throws {
            try await EventsCommand.call(
                "ReplayDeadLetter", "{\"consumer\": \(EventsCommand.quoted(consumer)), \"sequence\": \"\(sequence)\"}", connection: connection
            )
        }
    }

    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "discard", abstract: "Drop a dead delivery for good (the consumer never handles that event)."
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The consumer.") var consumer: String
        @Argument(help: "The event's sequence number (from dead-letters).") var sequence: Int64

        func run() async throws {
            try await EventsCommand.call(
                "DiscardDeadLetter", "{\"consumer\": \(EventsCommand.quoted(consumer)), \"sequence\": \"\(sequence)\"}", connection: connection
            )
        }
    }

    struct ForgetConsumer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "forget-consumer",
            abstract: "Forget a retired consumer: its cursor and its deliveries (refused while the server runs it)."
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The consumer's name (from consumers).") var consumer: String

        func run() async throws {
            try await EventsCommand.call("ForgetConsumer", "{\"consumer\": \(EventsCommand.quoted(consumer))}", connection: connection)
        }
    }
}

import ArgumentParser
import BaselineSupport
import GRPCCore
import GRPCNIOTransportHTTP2

/// grpc-swift 2 over HTTP/2 (its defaults, plaintext): a unary echo of raw bytes, served and loaded.
@main
struct GRPCBaseline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grpc-baseline", abstract: "grpc-swift 2 unary echo: server and load generator.",
        subcommands: [Serve.self, Bench.self]
    )

    struct Serve: AsyncParsableCommand {
        @OptionGroup var options: ServeOptions

        func run() async throws {
            let server = GRPCServer(
                transport: .http2NIOPosix(address: .ipv4(host: "127.0.0.1", port: options.port), transportSecurity: .plaintext),
                services: [EchoService()]
            )
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await server.serve() }
                if let address = try await server.listeningAddress { print("grpc echo listening on \(address)") }
            }
        }
    }

    struct Bench: AsyncParsableCommand {
        @OptionGroup var options: LoadOptions

        func run() async throws {
            print(try await GRPCLoad(options: options).run().json)
        }
    }
}

/// `/bench.Echo/Echo`: returns the request bytes.
struct EchoService: RegistrableRPCService {
    static let method = MethodDescriptor(fullyQualifiedService: "bench.Echo", method: "Echo")

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(forMethod: Self.method, deserializer: RawBytes(), serializer: RawBytes()) { request, _ in
            let single = try await ServerRequest(stream: request)
            return StreamingServerResponse(single: ServerResponse(message: single.message))
        }
    }
}

/// Messages are the bytes themselves: no protobuf cost on either side.
struct RawBytes: MessageSerializer, MessageDeserializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes {
        Bytes(message)
    }

    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}

// swift-tools-version:6.1
import PackageDescription

/// Every Swift target: Swift 6 mode, and imports internal unless a declaration says `public import`.
let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("ExistentialAny"),
]

let nio: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
]
/// TLS of the RPC port (server and client) and the SMTP client's STARTTLS.
let nioSSL: [Target.Dependency] = [.product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "NIOTLS", package: "swift-nio")]
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
/// swift-distributed-tracing's API (the client only needs `Instrumentation`, for `traceparent`).
let tracing: Target.Dependency = .product(name: "Tracing", package: "swift-distributed-tracing")
let instrumentation: Target.Dependency = .product(name: "Instrumentation", package: "swift-distributed-tracing")
let crypto: Target.Dependency = .product(name: "Crypto", package: "swift-crypto")
let base64: Target.Dependency = .product(name: "ExtrasBase64", package: "swift-extras-base64")
/// What a bounded context may depend on: the shared kernel (ARCHITECTURE.md item 8).
let kernel: [Target.Dependency] = [
    "KaroKarKernel", "KaroKarPostgres", "KaroKarMessages", "KaroKarServices", "KaroKarRPC", "KaroKarProto", logging,
]

/// For the modules whose code runs per frame: the RPC server, the service assembly (KaroKarServer:
/// the routes' closures, Echo's among them, are specialized there) and the load generator. Release
/// builds leave out the run-time exclusivity checks of class properties and of NIO's buffer
/// storage inlined into them (a tenth of the server's time per call, a fifth of the load
/// generator's; README, "Performance"). The compile-time checks stay, and debug builds (the tests
/// and the fuzzer) keep the run-time ones too.
let hotPathSettings: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "KaroKar",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "KaroKarClient", targets: ["KaroKarRPC", "KaroKarServices", "KaroKarMessages"]),
        .executable(name: "karokar-server", targets: ["karokar-server"]),
        .executable(name: "karokar-bench", targets: ["karokar-bench"]),
        .executable(name: "karokar", targets: ["karokar"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/swift-extras/swift-extras-base64", from: "1.2.0"),
        // The Verification context's HTTP provider and the Notification context's SMS and push senders.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // STARTTLS of the Notification context's SMTP client (already in the graph through async-http-client).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // The Notification context's message templates.
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        // Operations (issue 20): the process's services and their shutdown, metrics at /metrics.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Tracing (issue 20): already in the graph through async-http-client; named here for its API.
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
    ],
    targets: [
        // MARK: - C: protobuf-c runtime, bounded arena, protoc-c output
        .systemLibrary(name: "CProtobufC", path: "Sources/CProtobufC"),
        .target(name: "CProtoArena", dependencies: ["CProtobufC"]),
        .target(name: "CKaroKarProtos", dependencies: ["CProtobufC"]),

        // MARK: - Shared kernel: messages and RPC
        .target(name: "KaroKarProto", dependencies: ["CProtobufC", "CProtoArena", base64], swiftSettings: strictSettings),
        .target(
            name: "KaroKarMessages", dependencies: ["KaroKarProto", "CKaroKarProtos"], swiftSettings: strictSettings
        ),
        .target(
            name: "KaroKarRPC", dependencies: ["KaroKarProto", "KaroKarMessages", logging, instrumentation] + nioSSL + nio,
            swiftSettings: strictSettings
        ),
        // The server side of the RPC runtime: apart from KaroKarRPC, so that the client product
        // carries no unsafe flags (SwiftPM refuses a versioned dependency whose product does).
        .target(
            name: "KaroKarRPCServer",
            dependencies: ["KaroKarRPC", "KaroKarProto", "KaroKarMessages", logging, tracing, .product(name: "CoreMetrics", package: "swift-metrics")] + nioSSL + nio,
            swiftSettings: strictSettings + hotPathSettings
        ),
        .target(
            name: "KaroKarServices", dependencies: ["KaroKarProto", "KaroKarMessages", "KaroKarRPC"],
            swiftSettings: strictSettings
        ),

        // MARK: - PostgreSQL (the only importer of libpq)
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ"),
        .target(
            name: "KaroKarPostgres",
            dependencies: ["CLibPQ", tracing, .product(name: "NIOConcurrencyHelpers", package: "swift-nio")] + nio,
            swiftSettings: strictSettings
        ),

        // MARK: - Shared kernel: event bus and outbox, access control, ids, errors
        .target(
            name: "KaroKarKernel",
            dependencies: [
                "KaroKarProto", "KaroKarMessages", "KaroKarRPC", "KaroKarPostgres", logging, crypto, base64, tracing,
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ] + nio,
            swiftSettings: strictSettings
        ),

        // MARK: - Bounded contexts: each depends on the shared kernel only, never on another context
        .target(
            name: "IdentityContext",
            dependencies: kernel + nio + [crypto, base64, .product(name: "CryptoExtras", package: "swift-crypto")],
            exclude: ["README.md"], swiftSettings: strictSettings
        ),
        .target(name: "AdministrationContext", dependencies: kernel, exclude: ["README.md"], swiftSettings: strictSettings),
        .target(name: "FleetContext", dependencies: kernel, exclude: ["README.md"], swiftSettings: strictSettings),
        .target(name: "BookingContext", dependencies: kernel, exclude: ["README.md"], swiftSettings: strictSettings),
        .target(name: "AssignmentContext", dependencies: kernel, exclude: ["README.md"], swiftSettings: strictSettings),
        .target(
            name: "VerificationContext",
            dependencies: kernel + nio + [
                crypto, .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            exclude: ["README.md"], swiftSettings: strictSettings
        ),
        .target(name: "AuditContext", dependencies: kernel + [crypto], exclude: ["README.md"], swiftSettings: strictSettings),
        .target(
            name: "NotificationContext",
            dependencies: kernel + nio + [
                crypto, .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Mustache", package: "swift-mustache"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            exclude: ["README.md"], swiftSettings: strictSettings
        ),

        // MARK: - Tracing: the W3C tracer and the OTLP/HTTP JSON exporter (README, "Tracing")
        .target(
            name: "KaroKarTracing",
            dependencies: ["KaroKarProto", tracing, logging, .product(name: "AsyncHTTPClient", package: "async-http-client")] + nio,
            swiftSettings: strictSettings
        ),

        // MARK: - Server
        .target(
            name: "KaroKarServer",
            dependencies: [
                "KaroKarProto", "KaroKarMessages", "KaroKarRPC", "KaroKarRPCServer", "KaroKarServices", "KaroKarPostgres",
                "KaroKarKernel", "IdentityContext", "AdministrationContext", "FleetContext", "BookingContext", "AssignmentContext",
                "VerificationContext", "AuditContext", "NotificationContext", "KaroKarTracing", logging, base64, tracing,
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ] + nio,
            swiftSettings: strictSettings + hotPathSettings
        ),
        .executableTarget(
            name: "karokar-server",
            dependencies: [
                "KaroKarServer", "KaroKarRPC", logging, .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ] + nio,
            swiftSettings: strictSettings
        ),

        // MARK: - Tools: the CLI and the load generator
        .target(
            name: "KaroKarToolSupport",
            dependencies: ["KaroKarProto", "KaroKarMessages", "KaroKarRPC", "KaroKarServices"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "karokar",
            dependencies: [
                "KaroKarProto", "KaroKarMessages", "KaroKarRPC", "KaroKarServices", "KaroKarToolSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ] + nio,
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "karokar-bench",
            dependencies: [
                "KaroKarProto", "KaroKarMessages", "KaroKarRPC", "KaroKarServices", "KaroKarToolSupport", "KaroKarPostgres",
                "KaroKarKernel", "FleetContext", logging,
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ] + nio,
            swiftSettings: strictSettings + hotPathSettings
        ),
        .target(name: "CFuzzSupport"),
        .executableTarget(
            name: "karokar-fuzz", dependencies: ["KaroKarRPC", "KaroKarRPCServer", "CFuzzSupport"], swiftSettings: strictSettings
        ),

        // MARK: - Tests
        .target(
            name: "KaroKarTestSupport",
            dependencies: [
                "KaroKarProto", "KaroKarMessages", "KaroKarRPC", "KaroKarRPCServer", "KaroKarServices", "KaroKarServer",
                "KaroKarPostgres", "KaroKarKernel", "IdentityContext", "KaroKarTracing", logging, tracing,
            ] + nio,
            path: "Tests/KaroKarTestSupport", swiftSettings: strictSettings
        ),
        .testTarget(
            name: "IdentityContextTests",
            dependencies: [
                "IdentityContext", "KaroKarServer", "KaroKarTestSupport", .product(name: "Crypto", package: "swift-crypto"),
            ] + kernel + nio,
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AdministrationContextTests",
            dependencies: ["AdministrationContext", "KaroKarServer", "KaroKarTestSupport"] + kernel + nio,
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AuditContextTests",
            dependencies: ["AuditContext", "KaroKarServer", "KaroKarTestSupport"] + kernel + nio,
            swiftSettings: strictSettings
        ),
        // Fails when a bounded context imports another (or anything beyond the kernel).
        .testTarget(name: "ArchitectureTests", swiftSettings: strictSettings),
        .testTarget(
            name: "KaroKarProtoTests", dependencies: ["KaroKarProto", "KaroKarMessages", "KaroKarTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "KaroKarPostgresTests", dependencies: ["KaroKarPostgres", "KaroKarTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "KaroKarKernelTests",
            dependencies: ["KaroKarKernel", "KaroKarPostgres", "KaroKarMessages", "KaroKarProto", "KaroKarTestSupport", logging],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FleetContextTests",
            dependencies: ["FleetContext", "KaroKarTestSupport", "KaroKarServer"] + kernel,
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "BookingContextTests",
            dependencies: ["BookingContext", "KaroKarTestSupport", "KaroKarServer"] + kernel,
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "VerificationContextTests",
            dependencies: ["VerificationContext", "KaroKarTestSupport", "KaroKarServer", crypto, .product(name: "NIOHTTP1", package: "swift-nio")]
                + kernel + nio,
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "NotificationContextTests",
            dependencies: ["NotificationContext", "KaroKarTestSupport", "KaroKarServer", crypto, .product(name: "NIOHTTP1", package: "swift-nio"),
                           .product(name: "Mustache", package: "swift-mustache")]
                + kernel + nio,
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AssignmentContextTests",
            dependencies: ["AssignmentContext", "KaroKarTestSupport", "KaroKarServer"] + kernel,
            swiftSettings: strictSettings
        ),
        // A separate process for the event tests that kill one (SIGKILL after commit, mid-handler).
        .executableTarget(
            name: "karokar-events-probe",
            dependencies: ["KaroKarKernel", "KaroKarPostgres", "KaroKarMessages", logging],
            path: "Tests/KaroKarEventsProbe", swiftSettings: strictSettings
        ),
        .testTarget(
            name: "KaroKarCLITests",
            dependencies: [
                "KaroKarProto", "KaroKarMessages", "KaroKarRPC", "KaroKarRPCServer", "KaroKarServices", "KaroKarServer",
                "KaroKarToolSupport", "KaroKarTestSupport", "karokar", "karokar-bench", logging,
            ] + nio,
            swiftSettings: strictSettings
        ),
        // Operations (issue 20): lifecycle, admin HTTP server, health, metrics, logs.
        .testTarget(
            name: "OperationsTests",
            dependencies: [
                "KaroKarProto", "KaroKarMessages", "KaroKarRPC", "KaroKarRPCServer", "KaroKarServices", "KaroKarServer",
                "KaroKarPostgres", "KaroKarTestSupport", "KaroKarKernel", "KaroKarTracing", logging, tracing,
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ] + nio,
            swiftSettings: strictSettings
        ),
        // Every served method, as every role, with hostile requests generated from the schemas.
        .testTarget(
            name: "HandlerFuzzTests",
            dependencies: [
                "KaroKarProto", "KaroKarMessages", "KaroKarRPC", "KaroKarServices", "KaroKarPostgres", "KaroKarTestSupport",
                "karokar-server",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "KaroKarRPCTests",
            dependencies: [
                "KaroKarProto", "KaroKarMessages", "KaroKarRPC", "KaroKarRPCServer", "KaroKarServices", "KaroKarServer",
                "KaroKarTestSupport", logging,
            ] + nio,
            exclude: ["FuzzRegressions"], swiftSettings: strictSettings
        ),
    ]
)

// swift-tools-version:6.1
import PackageDescription

// Baselines for Deploy/compare-rpc.sh: the same 64-byte echo over grpc-swift 2 (HTTP/2) and over
// a raw SwiftNIO length-prefixed protocol (the ceiling). Its own package, so the main build and
// CI never pay for gRPC.

let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("InternalImportsByDefault"),
]
/// The same release setting as the main package's RPC runtime and load generator (no run-time
/// exclusivity checks), so the ceiling is not held back by checks our own server leaves out.
let hotPathSettings: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")

let package = Package(
    name: "KaroKarBaselines",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2", exact: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", exact: "2.9.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The load generator's histogram and CPU accounting are the main package's own files (symlinks).
        .target(name: "BaselineSupport", dependencies: [argumentParser], swiftSettings: strictSettings),
        .executableTarget(
            name: "grpc-baseline",
            dependencies: [
                "BaselineSupport", argumentParser,
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "raw-echo-baseline",
            dependencies: [
                "BaselineSupport", argumentParser,
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings + hotPathSettings
        ),
    ]
)

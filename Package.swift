// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-kafka-go",
    products: [
        .library(name: "KafkaProto", targets: ["KafkaProto"]),
        .library(name: "Kafka", targets: ["Kafka"]),
        .library(name: "KafkaEmbedded", targets: ["KafkaEmbedded"]),
        .library(name: "KafkaTest", targets: ["KafkaTest"]),
        .library(name: "KafkaMetrics", targets: ["KafkaMetrics"]),
        .library(name: "KafkaServiceLifecycle", targets: ["KafkaServiceLifecycle"]),
        .library(name: "KafkaTracing", targets: ["KafkaTracing"]),
        .executable(name: "kafka-service", targets: ["KafkaServiceExample"]),
        .executable(name: "kafka-produce", targets: ["KafkaProduceExample"]),
        .executable(name: "kafka-consume", targets: ["KafkaConsumeExample"]),
        .executable(name: "kafka-admin", targets: ["KafkaAdminExample"]),
        .executable(name: "kafka-serve", targets: ["KafkaServeExample"]),
        .executable(name: "kafka-bench", targets: ["KafkaBench"]),
        .executable(name: "kafka-soak", targets: ["KafkaSoak"]),
        .executable(name: "kafka-footprint", targets: ["ConsumerFootprint"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        // Only a plugin (`swift package generate-documentation`, `make docs`); no target depends on it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "Crdkafka",
            path: "Modules/Crdkafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"]), .brew(["librdkafka"])]
        ),
        .target(name: "KafkaProto"),
        .target(
            name: "Kafka",
            dependencies: [
                "KafkaProto",
                "Crdkafka",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The embedded cluster (librdkafka's mock) and what kafka-serve needs: no test framework.
        .target(name: "KafkaEmbedded", dependencies: ["Kafka", "Crdkafka"]),
        // A Broker as a swift-service-lifecycle Service; optional, so others do not build it.
        .target(
            name: "KafkaServiceLifecycle",
            dependencies: ["Kafka", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        .executableTarget(
            name: "KafkaServiceExample",
            dependencies: [
                "Kafka", "KafkaEmbedded", "KafkaServiceLifecycle", "ExampleSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/Service"
        ),
        // Test doubles and expectation mode (Swift Testing and XCTest); re-exports KafkaEmbedded.
        .target(name: "KafkaTest", dependencies: ["Kafka", "KafkaEmbedded"]),
        // librdkafka statistics as swift-metrics counters and gauges; optional, so others do not build it.
        .target(name: "KafkaMetrics", dependencies: ["Kafka", .product(name: "CoreMetrics", package: "swift-metrics")]),
        // Producer and consumer wrappers for swift-distributed-tracing; optional, so others do not build it.
        .target(name: "KafkaTracing", dependencies: ["Kafka", .product(name: "Tracing", package: "swift-distributed-tracing")]),
        .executableTarget(
            name: "KafkaProduceExample",
            dependencies: ["Kafka", "KafkaEmbedded", "ExampleSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/Produce"
        ),
        .executableTarget(
            name: "KafkaConsumeExample",
            dependencies: ["Kafka", "KafkaEmbedded", "ExampleSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/Consume"
        ),
        .executableTarget(
            name: "KafkaAdminExample",
            dependencies: ["Kafka", "KafkaEmbedded", "ExampleSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/Admin"
        ),
        .executableTarget(
            name: "KafkaServeExample",
            dependencies: ["Kafka", "KafkaEmbedded", "ExampleSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/Serve"
        ),
        .target(
            name: "ExampleSupport",
            dependencies: ["Kafka", "KafkaEmbedded", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/Support"
        ),
        .executableTarget(
            name: "KafkaBench",
            dependencies: ["Kafka", "KafkaEmbedded", "Crdkafka", "AllocationCounter"],
            path: "Benchmarks/KafkaBench"
        ),
        .target(name: "AllocationCounter", path: "Benchmarks/AllocationCounter"),
        .executableTarget(name: "KafkaSoak", dependencies: ["Kafka", "KafkaEmbedded"], path: "Benchmarks/KafkaSoak"),
        .executableTarget(name: "ConsumerFootprint", dependencies: ["Kafka", "KafkaEmbedded"], path: "Benchmarks/ConsumerFootprint"),
        .testTarget(name: "KafkaProtoTests", dependencies: ["KafkaProto"], resources: [.copy("Fixtures")]),
        // Helpers of this repository's own tests only (cluster selection, tansu flags); no product.
        .target(name: "KafkaTestSupport", dependencies: ["Kafka", "KafkaEmbedded"], path: "Tests/KafkaTestSupport"),
        .testTarget(
            name: "KafkaTests",
            dependencies: ["Kafka", "KafkaTest", "KafkaTestSupport", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        // Also holds the documentation's snippets (Tests/KafkaTestTests/DocSnippets), so it builds
        // every module the articles show.
        .testTarget(
            name: "KafkaTestTests",
            dependencies: [
                "Kafka", "KafkaTest", "KafkaTestSupport", "ExampleSupport", "KafkaMetrics", "KafkaTracing", "KafkaServiceLifecycle",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .testTarget(
            name: "KafkaMetricsTests",
            dependencies: ["KafkaMetrics", "KafkaTest", "KafkaTestSupport", .product(name: "MetricsTestKit", package: "swift-metrics")]
        ),
        .testTarget(
            name: "KafkaTracingTests",
            dependencies: ["KafkaTracing", "KafkaTest", "KafkaTestSupport", .product(name: "InMemoryTracing", package: "swift-distributed-tracing")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

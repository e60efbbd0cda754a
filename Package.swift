// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-kafka-go",
    products: [
        .library(name: "KafkaProto", targets: ["KafkaProto"]),
        .library(name: "Kafka", targets: ["Kafka"]),
        .library(name: "KafkaTest", targets: ["KafkaTest"]),
        .executable(name: "kafka-produce", targets: ["KafkaProduceExample"]),
        .executable(name: "kafka-consume", targets: ["KafkaConsumeExample"]),
        .executable(name: "kafka-serve", targets: ["KafkaServeExample"]),
        .executable(name: "kafka-bench", targets: ["KafkaBench"]),
        .executable(name: "kafka-soak", targets: ["KafkaSoak"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
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
        .target(name: "KafkaTest", dependencies: ["Kafka", "Crdkafka"]),
        .executableTarget(
            name: "KafkaProduceExample",
            dependencies: ["Kafka", "KafkaTest", "ExampleSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/Produce"
        ),
        .executableTarget(
            name: "KafkaConsumeExample",
            dependencies: ["Kafka", "KafkaTest", "ExampleSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/Consume"
        ),
        .executableTarget(
            name: "KafkaServeExample",
            dependencies: ["Kafka", "KafkaTest", "ExampleSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/Serve"
        ),
        .target(
            name: "ExampleSupport",
            dependencies: ["Kafka", "KafkaTest"],
            path: "Examples/Support"
        ),
        .executableTarget(
            name: "KafkaBench",
            dependencies: ["Kafka", "KafkaTest", "Crdkafka", "AllocationCounter"],
            path: "Benchmarks/KafkaBench"
        ),
        .target(name: "AllocationCounter", path: "Benchmarks/AllocationCounter"),
        .executableTarget(name: "KafkaSoak", dependencies: ["Kafka", "KafkaTest"], path: "Benchmarks/KafkaSoak"),
        .testTarget(name: "KafkaProtoTests", dependencies: ["KafkaProto"], resources: [.copy("Fixtures")]),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka", "KafkaTest"]),
        .testTarget(name: "KafkaTestTests", dependencies: ["Kafka", "KafkaTest"]),
    ],
    swiftLanguageModes: [.v6]
)

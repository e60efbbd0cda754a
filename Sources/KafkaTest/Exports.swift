// The embedded cluster is part of this module's API, so `import KafkaTest` keeps giving
// `MockCluster`, `withMockCluster` and `KafkaAPI` as before they moved to KafkaEmbedded.
@_exported import KafkaEmbedded

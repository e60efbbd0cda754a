import Foundation
import Kafka
import ServiceLifecycle

/// Runs a `Broker` (and the group consumers made from it) as a `Service` of a
/// swift-service-lifecycle `ServiceGroup`.
///
/// `run()` waits for the group's graceful shutdown (SIGTERM, SIGINT, or a service ending),
/// or for its task to be cancelled, then shuts down in order: each group consumer closes
/// (committing per its policy and leaving the group at once, so its partitions move to the
/// other members without waiting for a session timeout), the broker's producers get up to
/// ``shutdownGracePeriod`` to have their messages in flight acknowledged, and the broker
/// closes. Put it *before* the services that use the broker in the group's list: a
/// `ServiceGroup` shuts services down in reverse order, so those stop first.
public struct KafkaService: Service {
    /// The broker this service closes.
    public let broker: Broker
    /// Group consumers closed (commit per policy, leave) before the broker. Default none.
    public let groupConsumers: [GroupConsumer]
    /// How long producers' messages in flight may take to be acknowledged at shutdown. Default 10 s.
    public let shutdownGracePeriod: Duration

    /// A service that shuts `broker` and `groupConsumers` down gracefully.
    public init(broker: Broker, groupConsumers: [GroupConsumer] = [], shutdownGracePeriod: Duration = .seconds(10)) {
        self.broker = broker
        self.groupConsumers = groupConsumers
        self.shutdownGracePeriod = shutdownGracePeriod
    }

    /// Waits for graceful shutdown or cancellation, then shuts down as described above.
    /// Never throws: shutting down is the point.
    public func run() async throws {
        try? await gracefulShutdown()
        // Each step waits (for the coordinator, bounded by each consumer's `closeTimeout`, and for
        // acknowledgements) through the library's `async` twins, which hold no thread of the pool.
        for consumer in groupConsumers { await consumer.shutdown() }
        await broker.flush(timeout: shutdownGracePeriod)
        await broker.shutdown()
    }

    /// The shutdown sequence, also usable on its own: consumers, then producers' flush, then the broker.
    /// Returns how many produced messages were still unacknowledged when the grace period ended.
    @discardableResult
    public func shutdown() -> Int {
        for consumer in groupConsumers { consumer.close() }
        let outstanding = broker.flush(timeout: shutdownGracePeriod)
        broker.close()
        return outstanding
    }
}

import Synchronization

/// What a ``Sender`` knows of the topics it writes to: each one's partition count, trusted for
/// ``lifetime`` and then looked up again (partitions may be added), and where its keyless records
/// go now (Kafka's sticky placement). Consecutive sends to one topic find it without hashing its
/// name: a send's cost here is one uncontended lock and one string comparison.
final class SenderRoutes: Sendable {
    /// One topic's route. Touched only with the table's lock held.
    private final class Route {
        let topic: String
        var partitions: Int32
        var learned: ContinuousClock.Instant
        var sticky: Int32 = 0
        var stickyUntil: ContinuousClock.Instant
        /// Sends since the count's age was last checked: the clock is read once per
        /// ``SenderRoutes/ageCheckInterval`` sends, not per send.
        var sendsSinceCheck = 0
        /// The address of the sender's librdkafka topic handle for this topic once the first send
        /// made it, else 0 (an address, not a pointer: what a lock's state holds must be sendable).
        var topicHandleAddress: UInt = 0

        init(topic: String, partitions: Int32, now: ContinuousClock.Instant) {
            self.topic = topic
            self.partitions = partitions
            self.learned = now
            self.stickyUntil = now
        }
    }

    private struct Table {
        var last: Route?
        var byTopic: [String: Route] = [:]

        mutating func find(_ topic: String) -> Route? {
            if let last, last.topic == topic { return last }
            guard let found = byTopic[topic] else { return nil }
            last = found
            return found
        }
    }

    /// How long a partition count is trusted.
    static let lifetime: Duration = .seconds(30)
    private static let ageCheckInterval = 1024

    private let table = Mutex(Table())

    /// Where a record for `topic` may go: the topic's partition count, for a keyless record
    /// (`keyless`) the partition its keyless records stick to now (moved to a random one once
    /// `stickyWindow` passed), and the topic handle if a send made one. Nil when the count is
    /// not known or too old: look it up and ``remember(_:partitions:)`` it.
    func route(_ topic: String, keyless: Bool, stickyWindow: Duration) -> SenderRoute? {
        table.withLock { table in
            guard let route = table.find(topic) else { return nil }
            route.sendsSinceCheck += 1
            if route.sendsSinceCheck >= Self.ageCheckInterval {
                route.sendsSinceCheck = 0
                if ContinuousClock.now - route.learned >= Self.lifetime { return nil }
            }
            guard keyless else { return SenderRoute(partitions: route.partitions, sticky: 0, topicHandleAddress: route.topicHandleAddress) }
            let now = ContinuousClock.now
            if now >= route.stickyUntil {
                route.sticky = Int32.random(in: 0..<max(1, route.partitions))
                route.stickyUntil = now + stickyWindow
            }
            return SenderRoute(partitions: route.partitions, sticky: route.sticky, topicHandleAddress: route.topicHandleAddress)
        }
    }

    /// Keeps the sender's topic handle for `topic`, whose route is known, for later sends.
    func remember(_ topic: String, topicHandle: OpaquePointer) {
        let address = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(topicHandle)))
        table.withLock { table in table.find(topic)?.topicHandleAddress = address }
    }

    /// Records that `topic` has `partitions` partitions, as of now.
    func remember(_ topic: String, partitions: Int32) {
        let now = ContinuousClock.now
        table.withLock { table in
            guard let route = table.find(topic) else {
                let route = Route(topic: topic, partitions: partitions, now: now)
                table.byTopic[topic] = route
                table.last = route
                return
            }
            route.partitions = partitions
            route.learned = now
            route.sendsSinceCheck = 0
            if route.sticky >= partitions { route.stickyUntil = now }
        }
    }
}

/// What a ``SenderRoutes`` lookup finds for one topic.
struct SenderRoute {
    /// The topic's partition count.
    let partitions: Int32
    /// Where a keyless record goes now (0 for keyed lookups).
    let sticky: Int32
    /// The address of the sender's librdkafka topic handle, once made (else 0).
    let topicHandleAddress: UInt

    /// The sender's librdkafka topic handle, once made; valid until the handle's teardown.
    var topicHandle: OpaquePointer? { OpaquePointer(bitPattern: topicHandleAddress) }
}

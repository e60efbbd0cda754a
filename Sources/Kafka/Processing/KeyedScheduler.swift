/// Chooses which buffered message a free handler takes next: messages of one ordering key run one
/// after another in the order they arrived; messages of different keys run side by side.
///
/// A key is busy while one of its messages is being handled; its later messages wait in its queue.
/// Keys with waiting messages and no message in flight are ready, taken in the order they became
/// ready, so no key starves another.
struct KeyedScheduler<Key: Hashable & Sendable, Item: Sendable>: Sendable {
    private var queues: [Key: [Item]] = [:]
    private var busy: Set<Key> = []
    private var ready: [Key] = []
    private var readyHead = 0
    /// Items waiting in queues (not in flight).
    private(set) var waiting = 0

    /// Adds `item` under `key`; it runs after every earlier item of `key` finished.
    mutating func add(_ item: Item, key: Key) {
        let wasIdle = queues[key]?.isEmpty ?? true
        queues[key, default: []].append(item)
        waiting += 1
        if wasIdle, !busy.contains(key) { ready.append(key) }
    }

    /// True when ``next()`` would give an item: some key with waiting items has none in flight.
    var hasRunnable: Bool {
        ready[readyHead...].contains { key in !busy.contains(key) && !(queues[key]?.isEmpty ?? true) }
    }

    /// The next item to handle and its key, marking the key busy; nil when every waiting item's key is busy.
    mutating func next() -> (key: Key, item: Item)? {
        while readyHead < ready.count {
            let key = ready[readyHead]
            readyHead += 1
            if readyHead > 1024, readyHead * 2 > ready.count {
                ready.removeFirst(readyHead)
                readyHead = 0
            }
            guard var queue = queues[key], !queue.isEmpty, !busy.contains(key) else { continue }
            let item = queue.removeFirst()
            queues[key] = queue.isEmpty ? nil : queue
            busy.insert(key)
            waiting -= 1
            return (key, item)
        }
        return nil
    }

    /// Marks `key`'s item in flight as finished: its next waiting item becomes ready.
    mutating func finished(_ key: Key) {
        busy.remove(key)
        if let queue = queues[key], !queue.isEmpty { ready.append(key) }
    }

    /// Drops every waiting item for which `dropped` is true (their partitions were revoked) and
    /// returns them.
    mutating func removeWaiting(where dropped: (Item) -> Bool) -> [Item] {
        var removed: [Item] = []
        for (key, queue) in queues {
            var kept: [Item] = []
            for item in queue {
                if dropped(item) { removed.append(item) } else { kept.append(item) }
            }
            queues[key] = kept.isEmpty ? nil : kept
        }
        waiting -= removed.count
        return removed
    }
}

/// The lifetime of one ``PartitionQueue`` as a state machine, changed with the queue's lock held:
/// `open` (fetches may enter) → `closing` (``PartitionQueue/close()`` began: no fetch enters, the
/// closer waits for `users` to reach zero) → `freed` (the queue is destroyed). The handle's destroy
/// hook may free an `open` queue directly: the handle closing first means no fetch is inside.
struct QueueLifecycle {
    enum Phase: Equatable { case open, closing, freed }

    private(set) var phase = Phase.open
    /// Fetches using the queue now.
    private(set) var users = 0

    var isOpen: Bool { phase == .open }
    var isFreed: Bool { phase == .freed }

    /// A fetch enters; false once closing began.
    mutating func enter() -> Bool {
        guard phase == .open else { return false }
        users += 1
        return true
    }

    /// A fetch leaves; true when it was the last one and a closer waits for that.
    mutating func leave() -> Bool {
        users -= 1
        return users == 0 && phase == .closing
    }

    /// The first closer: true when this call is it.
    mutating func beginClose() -> Bool {
        guard phase == .open else { return false }
        phase = .closing
        return true
    }

    /// The queue is to be destroyed: true for the one caller that must destroy it.
    mutating func free() -> Bool {
        guard phase != .freed else { return false }
        phase = .freed
        return true
    }
}

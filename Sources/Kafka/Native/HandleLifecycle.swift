/// The lifetime of one ``NativeHandle`` as a state machine: who may use the `rd_kafka_t`, and who
/// destroys it. Every transition is made with the handle's lock held and returns what the caller
/// must do once it released the lock (run close hooks, destroy), so no librdkafka call or hook
/// ever runs under that lock.
///
/// `open` → `closing` (hooks ran; waiting for users to leave) → `tearingDown` → `settled`, or,
/// when calls detached onto the ``CallPool`` are still inside librdkafka as the last user
/// leaves, `closing` → `awaitingDetached` → (the last of them) `tearingDown` → `settled`.
struct HandleLifecycle {
    enum Phase: Equatable {
        /// Calls may enter.
        case open
        /// ``beginClose()`` ran: no call enters; waiting for `users` to reach zero.
        case closing
        /// Every user left but detached calls are inside librdkafka: the last one destroys.
        case awaitingDetached
        /// The teardown runs (destroy hooks, librdkafka's destroy).
        case tearingDown
        /// Destroyed, or the teardown outlived its limit and goes on in the background.
        case settled
    }

    /// What the caller of a transition does next, outside the lock.
    enum Action: Equatable {
        case none
        /// Run the teardown now (on this thread, or bounded by the handle's limit).
        case destroy
    }

    private(set) var phase = Phase.open
    /// Calls inside ``NativeHandle/withHandle(_:)``: closing waits for them.
    private(set) var users = 0
    /// Calls detached onto the pool: closing does not wait for them, the last one destroys.
    private(set) var detached = 0

    var isOpen: Bool { phase == .open }

    /// Whether a second closer may return: the handle is gone or left to someone who will destroy it.
    var isSettledForClosers: Bool { phase == .settled || phase == .awaitingDetached }

    /// A call enters; false once closing began.
    mutating func enter() -> Bool {
        guard phase == .open else { return false }
        users += 1
        return true
    }

    /// A call leaves; true when it was the last one and a closer waits for that (wake it).
    mutating func leave() -> Bool {
        users -= 1
        return users == 0 && phase == .closing
    }

    /// A detached call enters; false once closing began.
    mutating func enterDetached() -> Bool {
        guard phase == .open else { return false }
        detached += 1
        return true
    }

    /// A detached call returned from librdkafka.
    mutating func leaveDetached() -> Action {
        detached -= 1
        guard detached == 0, phase == .awaitingDetached else { return .none }
        phase = .tearingDown
        return .destroy
    }

    /// The first closer: true when this call is it (it runs the close hooks, then ``usersLeft()``).
    mutating func beginClose() -> Bool {
        guard phase == .open else { return false }
        phase = .closing
        return true
    }

    /// The closer saw `users` reach zero.
    mutating func usersLeft() -> Action {
        guard phase == .closing else { return .none }
        if detached > 0 {
            phase = .awaitingDetached
            return .none
        }
        phase = .tearingDown
        return .destroy
    }

    /// The teardown finished, or its closer stopped waiting for it.
    mutating func settle() {
        phase = .settled
    }
}

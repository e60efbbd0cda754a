/// One partition's commit frontier under concurrent processing: offsets are handed to handlers in
/// increasing order and finish in any order; the committable offset advances only past a
/// contiguous run of finished ones, so a commit never skips a message still being handled.
struct CommitFrontier: Sendable {
    /// Handed-out offsets not yet passed by the frontier, oldest first, and whether each finished.
    private var pending: [(offset: Int64, finished: Bool)] = []
    /// Index of the oldest entry of `pending` still in use (entries before it are dropped lazily).
    private var head = 0
    /// The offset after the last one handed out, once any was: the frontier when nothing is pending.
    private var next: Int64?

    /// How many handed-out offsets have not finished or are held behind one that has not.
    var count: Int { pending.count - head }

    /// Records that `offset` was handed to a handler. Offsets must increase.
    mutating func handedOut(_ offset: Int64) {
        pending.append((offset, false))
        next = offset + 1
    }

    /// Records that the handler of `offset` finished (handled, or sent to the dead-letter topic).
    mutating func finished(_ offset: Int64) {
        // Handlers finish close to the frontier: search from the oldest pending entry.
        guard let index = pending[head...].firstIndex(where: { $0.offset == offset }) else { return }
        pending[index].finished = true
        while head < pending.count, pending[head].finished { head += 1 }
        // Keep the storage from growing without bound: drop the passed entries now and then.
        if head > 1024, head * 2 > pending.count {
            pending.removeFirst(head)
            head = 0
        }
    }

    /// The offset to commit (the next one the group reads): the oldest unfinished offset, or the
    /// one after the last handed out when all finished; nil before anything was handed out.
    var committable: Int64? {
        head < pending.count ? pending[head].offset : next
    }
}

/// What the attempts of one produce call have achieved so far.
///
/// The first attempt sends every message and, when all are delivered, its
/// batch alone gives the offsets: no per-call array beyond the batch. Only a
/// retry makes `offsets` (delivered so far) and `pending` (to send again).
struct ProduceOutcome {
    /// False with `RequiredAcks.none`: the broker reports no offsets, so every one reads -1.
    let acknowledgesOffsets: Bool
    /// The number of messages of the call.
    let count: Int
    /// The indices of the messages the next attempt sends; nil for all of them.
    private(set) var pending: [Int]?
    /// Offsets of the messages delivered by earlier attempts, -1 for the others; nil before a retry.
    private var offsets: [Int64]?
    /// The first error of the latest failed attempt.
    private(set) var lastError = KafkaError.closed

    init(count: Int, acknowledgesOffsets: Bool) {
        self.count = count
        self.acknowledgesOffsets = acknowledgesOffsets
    }

    /// Reads a finished attempt's reports; returns the first error, nil when all were delivered.
    /// After an error, ``pending`` holds the failed messages.
    mutating func record(_ batch: ProduceAttempt) -> KafkaError? {
        var firstError: KafkaError?
        var failed: [Int] = []
        for slot in 0..<batch.count where batch.slots[slot].error != 0 {
            failed.append(index(of: slot))
            if firstError == nil { firstError = KafkaError(librdkafkaCode: batch.slots[slot].error) }
        }
        guard let firstError else {
            if offsets != nil { keepOffsets(batch) }
            return nil
        }
        if offsets == nil { offsets = [Int64](repeating: -1, count: count) }
        keepOffsets(batch)
        pending = failed
        lastError = firstError
        return firstError
    }

    /// Sets topic, partition and offset on every message once all are delivered, `last` being
    /// the final attempt's batch; returns the first message's offset.
    func stamp(_ messages: inout [Message], _ topic: String, _ partition: Int32, _ last: ProduceAttempt) -> Int64 {
        // Through the buffer: one uniqueness check for the call, not three per message.
        messages.withUnsafeMutableBufferPointer { buffer in
            for index in buffer.indices {
                buffer[index].topic = topic
                buffer[index].partition = partition
                buffer[index].offset = offsets?[index] ?? offset(last, slot: index)
            }
        }
        return messages[0].offset
    }

    private func index(of slot: Int) -> Int {
        pending?[slot] ?? slot
    }

    private func offset(_ batch: ProduceAttempt, slot: Int) -> Int64 {
        acknowledgesOffsets ? batch.slots[slot].offset : -1
    }

    private mutating func keepOffsets(_ batch: ProduceAttempt) {
        guard var kept = offsets else { return }
        offsets = nil  // keeps `kept` uniquely referenced while it is written
        for slot in 0..<batch.count where batch.slots[slot].error == 0 {
            kept[index(of: slot)] = offset(batch, slot: slot)
        }
        offsets = kept
    }
}

import Dispatch

/// Threads for blocking librdkafka calls made on behalf of `async` callers,
/// so that the cooperative pool never blocks. Used for calls that wait on
/// the network without a completion callback (dial, metadata, consume when
/// its buffer is empty); per call, never per message.
private let blockingQueue = DispatchQueue(label: "kafka.blocking", attributes: .concurrent)

/// Runs `body` on a thread outside the cooperative pool and returns its result.
func runBlocking<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
    try await withCheckedThrowingContinuation { continuation in
        blockingQueue.async {
            continuation.resume(with: Swift.Result { try body() })
        }
    }
}

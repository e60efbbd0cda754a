/// How many times a commit that failed with a retriable error is made by the scoped forms.
let transactionCommitAttempts = 3

/// The scoped form of a transaction, hard to leave open or to commit half done, and the group
/// integration, for every transactional producer.
extension TransactionalProducing {
    /// Runs `body` inside a transaction: begins one, commits it when `body` returns, aborts it
    /// when `body` throws (and rethrows). A commit that fails retriably is made again (up to three
    /// attempts, each resuming the same commit); one that fails abortably is aborted and its error
    /// thrown, so the caller can rewind its inputs (``TransactionalConsumer/rewindToCommitted()``)
    /// and run the transaction again; a fatal error is thrown as is.
    /// - Returns: what `body` returned, once the transaction committed.
    /// - Throws: what `body` threw (the transaction aborted); the commit's `KafkaError.transaction(_:)`;
    ///   as ``beginTransaction()``.
    public func transaction<R>(_ body: () throws -> R) throws -> R {
        try beginTransaction()
        let value: R
        do {
            value = try body()
        } catch {
            try? abortTransaction()
            throw error
        }
        try commitRetrying()
        return value
    }

    /// The `async` twin of the blocking `transaction(_:)`. Cancellation: when the task is cancelled
    /// before `body` returned (or `body` throws `CancellationError`), the transaction is aborted
    /// and `CancellationError` thrown; once the commit began, it is waited for to its end whatever
    /// happens to the task (a commit cannot be taken back), and its outcome returned or thrown.
    public func transaction<R>(_ body: () async throws -> R) async throws -> R {
        try beginTransaction()
        let value: R
        do {
            value = try await body()
            try Task.checkCancellation()
        } catch {
            await Task { try await self.abortTransaction() }.result.ignore()
            throw error
        }
        // A task of its own, which the caller's cancellation does not reach: a decided commit runs to its end.
        try await Task { try await self.commitRetrying() }.value
        return value
    }

    /// Adds the offsets of every message `consumer` handed out, with its group metadata, to the
    /// open transaction.
    /// - Throws: `KafkaError.invalidArgument(_:)` for a consumer that commits automatically (its
    ///   commits would also commit, outside the transaction, what the transaction may abort);
    ///   as ``TransactionalProducing/sendOffsets(_:group:)-24aec``.
    public func sendOffsets(handedOutBy consumer: some TransactionalConsumer) throws {
        let (offsets, group) = try Self.transactionInputs(consumer)
        try sendOffsets(offsets, group: group)
    }

    /// The `async` twin of ``sendOffsets(handedOutBy:)``.
    public func sendOffsets(handedOutBy consumer: some TransactionalConsumer) async throws {
        let (offsets, group) = try Self.transactionInputs(consumer)
        try await sendOffsets(offsets, group: group)
    }

    private static func transactionInputs(_ consumer: some TransactionalConsumer) throws -> ([TopicPartition: Int64], ConsumerGroupMetadata) {
        let group = try consumer.groupMetadata()
        guard !consumer.commitsAutomatically else {
            throw KafkaError.invalidArgument(
                "the member of group \(group.group) commits automatically, which would also commit outside the transaction; use CommitPolicy.manual"
            )
        }
        return (try consumer.handedOutOffsets(), group)
    }

    /// Ends the open transaction before a rebalance takes partitions away: sends the offsets the
    /// member handed out (``Rebalance/handedOut``, with its ``Rebalance/groupMetadata``) and
    /// commits; when that fails abortably, aborts and rethrows (the partitions' next owner reads
    /// from the committed offsets). Nothing when no transaction is open. For transactions that span
    /// several reads: call it from ``RebalanceHooks/onRevoked``, and check ``isInTransaction`` after
    /// each read (a rebalance served inside the read may have ended the transaction).
    /// - Throws: as ``TransactionalProducing/sendOffsets(_:group:)-24aec`` and ``TransactionalProducing/commitTransaction()-cmmi``.
    public func endTransaction(before rebalance: Rebalance) throws {
        guard isInTransaction else { return }
        do {
            if let group = rebalance.groupMetadata, !rebalance.handedOut.isEmpty {
                try sendOffsets(rebalance.handedOut, group: group)
            }
            try commitRetrying()
        } catch let error as KafkaError where error.transactionFailureKind == .abortable {
            try? abortTransaction()
            throw error
        }
    }

    private func commitRetrying() throws {
        var attempt = 1
        while true {
            do {
                return try commitTransaction()
            } catch let error as KafkaError where error.transactionFailureKind == .retriable && attempt < transactionCommitAttempts {
                attempt += 1
            } catch let error as KafkaError where error.transactionFailureKind == .abortable {
                try? abortTransaction()
                throw error
            }
        }
    }

    private func commitRetrying() async throws {
        var attempt = 1
        while true {
            do {
                return try await commitTransaction()
            } catch let error as KafkaError where error.transactionFailureKind == .retriable && attempt < transactionCommitAttempts {
                attempt += 1
            } catch let error as KafkaError where error.transactionFailureKind == .abortable {
                try? await abortTransaction()
                throw error
            }
        }
    }
}

extension Result {
    /// Drops the outcome on purpose (a best-effort abort whose failure the caller's error outranks).
    fileprivate func ignore() {}
}

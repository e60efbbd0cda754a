import Crdkafka
import Foundation
import Synchronization

/// Everything librdkafka's C callbacks need, reached through the handle's
/// opaque pointer. Retained by its ``NativeHandle`` until after `rd_kafka_destroy`,
/// so no callback can outlive it.
final class HandleContext: Sendable {
    let logger: any KafkaLogger
    let name: String
    /// The last errors librdkafka reported (error callback and warning-or-worse
    /// log lines), newest last, at most 16: the details of a failed dial.
    private let diagnostics = Mutex<[String]>([])
    /// Set when librdkafka reports that no broker is reachable.
    let allBrokersDown = Atomic<Int>(0)
    /// Produce calls whose deliveries are outstanding, failed with `closed` at close.
    let deliveries = Mutex<[ObjectIdentifier: ProduceAttempt]>([:])
    /// Whether delivery reports resolve ``DeliveryReceipt``s (a ``Sender``'s handle) rather than
    /// produce calls' delivery slots.
    let reportsToReceipts: Bool
    /// Failed deliveries of a sender's records so far.
    let failedDeliveries = Atomic<Int>(0)
    /// Told of every failed delivery of a sender's record; nil logs it.
    let deliveryFailures = Mutex<(@Sendable (DeliveryFailure) -> Void)?>(nil)
    /// Latest statistics JSON, when `statistics.interval.ms` is set.
    let statistics = Mutex<String?>(nil)
    /// What handles a group consumer's rebalances; set once the consumer exists.
    let rebalance = Mutex<(@Sendable (OpaquePointer, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void)?>(nil)

    /// Answers librdkafka's OAUTHBEARER token refreshes, when SASL OAUTHBEARER is configured.
    let tokenProvider: (@Sendable () throws -> SASLConfiguration.OAuthBearerToken)?

    init(
        logger: any KafkaLogger, name: String, tokenProvider: (@Sendable () throws -> SASLConfiguration.OAuthBearerToken)? = nil,
        reportsToReceipts: Bool = false
    ) {
        self.logger = logger
        self.name = name
        self.tokenProvider = tokenProvider
        self.reportsToReceipts = reportsToReceipts
    }

    /// Fails `receipt` with `error` and reports the failure to the handler or the log.
    func resolve(_ receipt: DeliveryReceipt, _ error: KafkaError) {
        guard receipt.resolveFailed(error) else { return }
        reportFailure(DeliveryFailure(topic: receipt.topic, partition: receipt.partition, error: error))
    }

    /// Counts a failed delivery of a sender's record and tells the handler, or else the log.
    func reportFailure(_ failure: DeliveryFailure) {
        failedDeliveries.add(1, ordering: .relaxed)
        if let handler = deliveryFailures.withLock({ $0 }) {
            handler(failure)
        } else {
            logger.error("delivery failed", [("topic", failure.topic), ("partition", "\(failure.partition)"), ("error", failure.error.description)])
        }
    }

    func record(_ line: String) {
        diagnostics.withLock {
            $0.append(line)
            if $0.count > 16 { $0.removeFirst($0.count - 16) }
        }
    }

    func recentDiagnostics() -> [String] {
        diagnostics.withLock { $0 }
    }

    func clearDiagnostics() {
        diagnostics.withLock { $0.removeAll() }
        allBrokersDown.store(0, ordering: .relaxed)
    }

    /// True when the recorded errors look like librdkafka < 2.2.0's tagged-field bug.
    var sawTaggedFieldBug: Bool {
        Librdkafka.hasTaggedFieldBug && recentDiagnostics().contains { $0.contains("Read underflow") }
    }

    static func from(_ rk: OpaquePointer?) -> HandleContext? {
        guard let rk, let opaque = rd_kafka_opaque(rk) else { return nil }
        return Unmanaged<HandleContext>.fromOpaque(opaque).takeUnretainedValue()
    }
}

/// librdkafka's log callback: syslog level to logger level. Called on librdkafka's threads.
let logCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = {
    rk, level, facility, line in
    guard let context = HandleContext.from(rk), let line else { return }
    let text = String(cString: line)
    let fields = [("facility", facility.map { String(cString: $0) } ?? ""), ("handle", context.name)]
    switch level {
    case ...3:
        context.record(text)
        context.logger.error(text, fields)
    case 4:
        context.record(text)
        context.logger.warn(text, fields)
    case 5...6: context.logger.info(text, fields)
    default: context.logger.debug(text, fields)
    }
}

/// librdkafka's error callback, served by `rd_kafka_poll` and `rd_kafka_consumer_poll` (a polled
/// handle's main queue takes errors as events, see ``MainQueueEvents``).
let errorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
    rk, code, reason, _ in
    HandleContext.from(rk)?.reportError(code: code, text: reason.map { String(cString: $0) } ?? "")
}

/// librdkafka's statistics callback: keeps the latest JSON. Returns 0 so librdkafka frees the buffer.
let statisticsCallback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?, Int, UnsafeMutableRawPointer?) -> Int32 = {
    rk, json, length, _ in
    guard let context = HandleContext.from(rk), let json else { return 0 }
    context.keepStatistics(String(decoding: UnsafeRawBufferPointer(start: json, count: length), as: UTF8.self))
    return 0
}

extension HandleContext {
    /// Records and logs an error librdkafka reported (`code` is its error code).
    func reportError(code: Int32, text: String) {
        record(text)
        if code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue {
            allBrokersDown.store(1, ordering: .relaxed)
        }
        logger.error(text, [("code", "\(code)"), ("handle", name)])
    }

    /// Keeps `json` as the latest statistics.
    func keepStatistics(_ json: String) {
        statistics.withLock { $0 = json }
    }
}

/// librdkafka's OAUTHBEARER refresh callback, served by the handle's poll: asks the
/// configured provider for a token and hands it to librdkafka (or reports the failure).
let tokenRefreshCallback: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = { rk, _, _ in
    guard let rk else { return }
    refreshToken(rk)
}

/// Asks the configured token provider of `rk` for an OAUTHBEARER token and hands it to
/// librdkafka, or reports the failure.
func refreshToken(_ rk: OpaquePointer) {
    guard let provider = HandleContext.from(rk)?.tokenProvider else { return }
    do {
        let token = try provider()
        var errorText = [CChar](repeating: 0, count: 512)
        let expiryMilliseconds = Int64(token.expiry.timeIntervalSince1970 * 1000)
        let code = rd_kafka_oauthbearer_set_token(rk, token.value.value, expiryMilliseconds, token.principal, nil, 0, &errorText, errorText.count)
        if code != RD_KAFKA_RESP_ERR_NO_ERROR {
            let text = String(decoding: errorText.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            _ = rd_kafka_oauthbearer_set_token_failure(rk, "the token was refused: \(text)")
        }
    } catch {
        _ = rd_kafka_oauthbearer_set_token_failure(rk, "the token provider failed: \(error)")
    }
}

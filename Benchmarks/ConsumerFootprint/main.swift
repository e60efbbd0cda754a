// kafka-footprint: what 64 partition consumers merged with Mx cost the process.
//
// Starts an embedded cluster (1 broker, then 3 brokers; or only `--brokers N`) with a topic
// of 64 partitions, dials it, fills every partition through the broker's producer, then takes
// a baseline: threads (/proc/self/task), open file descriptors and sockets (/proc/self/fd)
// and VmRSS (/proc/self/status). Then it makes 64 BrokerConsumers, merges them with Mx,
// reads every message, and prints the same figures minus the baseline: right after the last
// message, and again after `--settle-ms` (default 2000) with the consumers still open.
//
// The same file builds against older trees of this package: where MockCluster lives in
// KafkaTest (before KafkaEmbedded existed), it imports that module instead.
import Glibc
import Kafka
#if canImport(KafkaEmbedded)
import KafkaEmbedded
#else
import KafkaTest
#endif

struct Footprint {
    var threads = 0
    var fds = 0
    var sockets = 0
    var rssKiB = 0

    static func now() -> Footprint {
        var result = Footprint()
        result.threads = entries("/proc/self/task").count
        for name in entries("/proc/self/fd") {
            result.fds += 1
            var target = [CChar](repeating: 0, count: 256)
            let length = readlink("/proc/self/fd/\(name)", &target, target.count - 1)
            if length > 0, String(decoding: target.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self).hasPrefix("socket:") { result.sockets += 1 }
        }
        // The directory stream entries() had open is closed again: nothing to subtract.
        if let file = fopen("/proc/self/status", "r") {
            defer { fclose(file) }
            var line = [CChar](repeating: 0, count: 512)
            while fgets(&line, Int32(line.count), file) != nil {
                let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if text.hasPrefix("VmRSS:") {
                    result.rssKiB = Int(text.dropFirst(6).filter(\.isNumber)) ?? 0
                }
            }
        }
        return result
    }

    static func entries(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func - (lhs: Footprint, rhs: Footprint) -> Footprint {
        Footprint(threads: lhs.threads - rhs.threads, fds: lhs.fds - rhs.fds, sockets: lhs.sockets - rhs.sockets, rssKiB: lhs.rssKiB - rhs.rssKiB)
    }

    var text: String {
        "threads \(threads)  fds \(fds)  sockets \(sockets)  rss_kib \(rssKiB)"
    }
}

var options: [String: String] = [:]
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    guard flag.hasPrefix("--"), let value = arguments.next() else {
        print("kafka-footprint: expected --flag value pairs, got \(flag)")
        exit(2)
    }
    options[String(flag.dropFirst(2))] = value
}
let partitions = Int(options["partitions"] ?? "") ?? 64
let perPartition = Int(options["per-partition"] ?? "") ?? 10
let settleMilliseconds = Int(options["settle-ms"] ?? "") ?? 2000
let brokerCounts = options["brokers"].map { [Int($0) ?? 1] } ?? [1, 3]
let label = options["label"] ?? "run"

func run(brokers: Int) throws {
    let cluster = try MockCluster(brokers: brokers)
    defer { cluster.close() }
    try cluster.createTopic("footprint", partitions: partitions)
    let broker = try Broker.dial(cluster.addresses)
    defer { broker.close() }
    let producer = try broker.producer()
    for partition in 0..<partitions {
        var messages = (0..<perPartition).map { Message(value: Array("message \($0)".utf8)) }
        try producer.produce("footprint", partition: Int32(partition), messages: &messages)
    }
    usleep(500_000)
    let baseline = Footprint.now()

    var consumers: [BrokerConsumer] = []
    for partition in 0..<partitions {
        var conf = ConsumerConf(topic: "footprint", partition: Int32(partition))
        conf.startOffset = .oldest
        conf.retryLimit = 100
        consumers.append(try broker.consumer(conf))
    }
    let mx = Mx.merge(consumers)
    var read = 0
    while read < partitions * perPartition {
        _ = try mx.consume()
        read += 1
    }
    let afterConsume = Footprint.now()
    usleep(UInt32(settleMilliseconds) * 1000)
    let settled = Footprint.now()
    print("\(label) brokers=\(brokers) partitions=\(partitions) read=\(read)")
    print("  baseline (after dial + fill)      \(baseline.text)")
    print("  delta after consuming             \((afterConsume - baseline).text)")
    print("  delta after \(settleMilliseconds) ms, consumers open  \((settled - baseline).text)")
    mx.close()
    consumers.forEach { $0.close() }
}

for brokers in brokerCounts {
    do {
        try run(brokers: brokers)
    } catch {
        print("\(label) brokers=\(brokers) failed: \(error)")
        exit(1)
    }
}

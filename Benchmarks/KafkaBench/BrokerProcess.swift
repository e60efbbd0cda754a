import Foundation
import Glibc
import KafkaEmbedded
import Synchronization

/// The cluster every row runs against: librdkafka's mock embedded in this process (the default), or
/// the same mock served by `kafka-serve` in a child process (`--broker-process`), so that this
/// process's `getrusage(RUSAGE_SELF)` counts the client alone.
final class BenchCluster {
    /// The bootstrap list for raw librdkafka handles (`bootstrap.servers`).
    let bootstrap: String
    /// The same addresses, one per broker, for `Broker.dial`.
    let addresses: [String]
    /// Where the broker runs, for the report's header.
    let placement: String
    /// What the CPU column counts in this mode, for the report's header.
    let cpuCounts: String
    /// True when the broker runs in a child process.
    let isOwnProcess: Bool
    private let embedded: MockCluster?
    private let child: BrokerProcess?

    /// Starts a one-broker cluster with `topics` (name, partitions) created before it returns: embedded
    /// in this process, or in a `kafka-serve` child process when `inOwnProcess`.
    init(inOwnProcess: Bool, topics: [(name: String, partitions: Int)]) throws {
        isOwnProcess = inOwnProcess
        if inOwnProcess {
            let child = try BrokerProcess.launch(topics: topics)
            self.child = child
            embedded = nil
            addresses = child.addresses
            placement = "1-broker cluster in its own process (kafka-serve, pid \(child.processIdentifier))"
            cpuCounts = "client only; broker in its own process (kafka-serve's CPU is not counted)"
        } else {
            let cluster = try MockCluster(brokers: 1)
            for topic in topics { try cluster.createTopic(topic.name, partitions: topic.partitions) }
            embedded = cluster
            child = nil
            addresses = cluster.addresses
            placement = "embedded 1-broker cluster"
            cpuCounts = "client and broker in one process (all threads: client, librdkafka, embedded cluster)"
        }
        bootstrap = addresses.joined(separator: ",")
    }

    /// Stops the broker: closes the embedded cluster, or stops the child process (bounded wait).
    /// Idempotent, so a `defer` can call it after the normal path did.
    func close() {
        embedded?.close()
        child?.stop()
    }
}

/// `kafka-serve` (Examples/Serve) as a child process of the bench. It is looked for in the bench's
/// own bin directory, so `swift build --product kafka-serve` with the same scratch path and
/// configuration provides it.
final class BrokerProcess {
    /// How long the child may take to print its address: it creates the topics first, which takes
    /// milliseconds, so this bounds only a child that hangs.
    static let startTimeout: Duration = .seconds(30)
    /// How long the child may take to stop after SIGTERM before it is killed.
    static let stopTimeout: Duration = .seconds(10)

    /// The brokers' addresses as kafka-serve printed them; empty until its banner was read.
    private(set) var addresses: [String] = []
    private let process: Process
    /// Keeps the read end of the child's standard output open: closed, kafka-serve's next write to
    /// it would end it with SIGPIPE.
    private let output: Pipe
    /// Signalled by the termination handler once the child has exited.
    private let exited: DispatchSemaphore
    private let stopped = Atomic<Bool>(false)

    /// The child's pid, for the report's header.
    var processIdentifier: Int32 { process.processIdentifier }

    private init(process: Process, output: Pipe, exited: DispatchSemaphore) {
        self.process = process
        self.output = output
        self.exited = exited
    }

    /// Launches kafka-serve with `topics` created (its `--topic name:partitions` flags, so they exist
    /// before it prints its address) and waits at most `startTimeout` for its banner line
    /// (`kafka-serve: 1 broker(s) at HOST:PORT, topics ...`). The child is stopped again when the
    /// banner does not come or cannot be read.
    static func launch(topics: [(name: String, partitions: Int)]) throws -> BrokerProcess {
        guard let directory = Bundle.main.executableURL?.deletingLastPathComponent() else {
            throw BenchError("cannot find the bench's own executable, so not kafka-serve next to it either")
        }
        let executable = directory.appendingPathComponent("kafka-serve")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw BenchError(
                "--broker-process needs kafka-serve next to kafka-bench, at \(executable.path): build it with "
                    + "`swift build -c release --product kafka-serve` and the same --scratch-path (`make bench` does when BENCH_ARGS has --broker-process)"
            )
        }
        // Installed before the child exists, so no crash can come between its start and the hook.
        ChildReaper.install()
        let process = Process()
        process.executableURL = executable
        process.arguments = topics.flatMap { ["--topic", "\($0.name):\($0.partitions)"] }
        let output = Pipe()
        process.standardOutput = output
        // Standard error stays the bench's: kafka-serve's own errors then reach the terminal.
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        ChildReaper.childPID.store(process.processIdentifier, ordering: .relaxed)
        let child = BrokerProcess(process: process, output: output, exited: exited)
        let line: String
        switch FirstLine.read(from: output.fileHandleForReading.fileDescriptor, within: startTimeout) {
        case .line(let text):
            line = text
        case .ended:
            child.stop()
            let status = process.isRunning ? "" : " (exit status \(process.terminationStatus))"
            throw BenchError("kafka-serve ended its output without printing its address\(status)")
        case .timedOut:
            child.stop()
            throw BenchError("kafka-serve printed no address line within \(startTimeout)")
        }
        guard let addresses = addresses(inBanner: line) else {
            child.stop()
            throw BenchError("cannot read kafka-serve's address from its line \(line.debugDescription)")
        }
        child.addresses = addresses
        return child
    }

    /// The addresses of a kafka-serve banner, `kafka-serve: N broker(s) at A,B[, topics ...]`; nil
    /// when the line is not one.
    static func addresses(inBanner line: String) -> [String]? {
        guard line.hasPrefix("kafka-serve: "), let at = line.range(of: " at ") else { return nil }
        let list = line[at.upperBound...].components(separatedBy: ", topics ")[0]
        let addresses = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !addresses.isEmpty, addresses.allSatisfy({ $0.contains(":") && !$0.contains(" ") }) else { return nil }
        return addresses
    }

    /// Stops the child: SIGTERM (kafka-serve then closes its cluster and exits), at most
    /// `stopTimeout` of waiting, then SIGKILL and a last short wait. Idempotent.
    func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        defer { ChildReaper.childPID.store(0, ordering: .relaxed) }
        guard process.isRunning else { return }
        process.terminate()
        if exited.wait(timeout: deadline(after: Self.stopTimeout)) == .timedOut {
            FileHandle.standardError.write(Data("kafka-bench: kafka-serve did not stop within \(Self.stopTimeout) of SIGTERM; killing it\n".utf8))
            kill(process.processIdentifier, SIGKILL)
            _ = exited.wait(timeout: deadline(after: .seconds(5)))
        }
    }
}

/// The dispatch time `duration` from now, for semaphore waits.
func deadline(after duration: Duration) -> DispatchTime {
    .now() + .milliseconds(Int(duration / .milliseconds(1)))
}

/// Reads the first line a child writes, with a deadline: a read of a pipe has none, so it runs on a
/// thread of its own and the caller waits for that thread at most the given time.
enum FirstLine {
    enum Outcome {
        /// The first line, without its newline.
        case line(String)
        /// The writer closed its end (or a read failed) before a whole line came.
        case ended
        case timedOut
    }

    /// The first line written to `descriptor`, waiting at most `timeout`. A reader left behind by
    /// a timeout ends once the writer is gone (the caller stops the child then).
    static func read(from descriptor: Int32, within timeout: Duration) -> Outcome {
        let done = DispatchSemaphore(value: 0)
        // The line is shared with the reader thread through a reference: a Mutex cannot be captured.
        let box = ResultBox()
        Thread.detachNewThread {
            defer { done.signal() }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 512)
            while !bytes.contains(UInt8(ascii: "\n")) {
                let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { return }
                bytes += chunk[..<count]
            }
            let line = bytes.prefix { $0 != UInt8(ascii: "\n") }
            box.result.withLock { $0 = String(decoding: line, as: UTF8.self) }
        }
        guard done.wait(timeout: deadline(after: timeout)) == .success else { return .timedOut }
        return box.result.withLock { $0 }.map(Outcome.line) ?? .ended
    }

    private final class ResultBox: Sendable {
        let result = Mutex<String?>(nil)
    }
}

/// Kills the broker child when the bench dies of a signal (a failed precondition traps, SIGTERM,
/// SIGHUP): no `defer` runs then, and an orphaned kafka-serve would serve on. The signal's previous
/// action (the Swift runtime's backtracer, or the default) is restored and the signal raised again,
/// so the bench still dies as it would have.
enum ChildReaper {
    /// The running child's pid, 0 when there is none; read by the signal handler, so atomic.
    static let childPID = Atomic<Int32>(0)
    private static let signals: [Int32] = [SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGHUP, SIGINT, SIGTERM]
    private static let installed = Atomic<Bool>(false)

    /// Installs the handler on `signals`, once.
    static func install() {
        guard !installed.exchange(true, ordering: .relaxed) else { return }
        // Static lets are initialised on first use, which a signal handler must not be.
        _ = childPID.load(ordering: .relaxed)
        for number in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = reap
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, replacedActions + Int(number))
        }
    }

    /// The actions `install` replaced, indexed by signal number; written before the handler is
    /// installed and only read after, so no lock (none could be taken in a signal handler anyway).
    nonisolated(unsafe) private static let replacedActions: UnsafeMutablePointer<sigaction> = {
        let actions = UnsafeMutablePointer<sigaction>.allocate(capacity: Int(NSIG))
        actions.initialize(repeating: sigaction(), count: Int(NSIG))
        return actions
    }()

    /// The handler: only async-signal-safe calls (kill, sigaction, raise). The raised signal stays
    /// blocked until this returns, and is then delivered to the restored action.
    private static let reap: @convention(c) (Int32) -> Void = { number in
        let pid = childPID.load(ordering: .relaxed)
        if pid > 0 { kill(pid, SIGKILL) }
        sigaction(number, replacedActions + Int(number), nil)
        raise(number)
    }
}

/// A failure of the bench's own setup, printed as its message.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

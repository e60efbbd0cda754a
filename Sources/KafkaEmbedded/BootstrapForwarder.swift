import Foundation
import Kafka
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Listens on a fixed loopback port and forwards each connection to one
/// broker of the embedded cluster, whose own ports librdkafka 2.0.2 picks at
/// random. Clients bootstrap through the fixed port; the metadata they get
/// names the brokers' real ports, which they then use directly. What
/// `kafka-serve --port` uses.
public final class BootstrapForwarder: Sendable {
    private let listener: Int32
    private let targetPort: UInt16
    /// Set by the first ``close()``. Only the accept loop closes the listening socket, once,
    /// so no call can close a descriptor number the process has since reused.
    private let closed = Atomic<Bool>(false)

    /// Starts listening on 127.0.0.1:`port` and forwarding to `target` ("127.0.0.1:port", a
    /// loopback broker such as one of ``MockCluster/addresses``).
    /// - Throws: `KafkaError.invalidArgument(_:)` for a target that is not "host:port" on
    ///   loopback, or naming the port and the system's reason when it cannot be bound.
    public init(port: UInt16, target: String) throws {
        let parts = target.split(separator: ":")
        guard parts.count == 2, ["127.0.0.1", "localhost"].contains(parts[0]), let targetPort = UInt16(parts[1]) else {
            throw KafkaError.invalidArgument("bad forwarding target \(target): give 127.0.0.1:port")
        }
        self.targetPort = targetPort
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw KafkaError.invalidArgument("cannot create a socket: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 64) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(listener)
            throw KafkaError.invalidArgument("cannot listen on 127.0.0.1:\(port): \(reason)")
        }
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "kafka-serve-forwarder"
        thread.start()
    }

    deinit {
        close()
    }

    /// Stops accepting connections; connections already forwarded go on until either end closes.
    /// Idempotent and safe from any thread.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        // Wakes the accept loop, which closes the descriptor itself: it stays valid while in use.
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptLoop() {
        defer { Glibc.close(listener) }
        while !closed.load(ordering: .acquiring) {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: targetPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard upstream >= 0, connected == 0 else {
                Glibc.close(client)
                if upstream >= 0 { Glibc.close(upstream) }
                continue
            }
            let pair = SocketPair(client, upstream)
            Thread { Self.pump(from: client, to: upstream); pair.finishedOneDirection() }.start()
            Thread { Self.pump(from: upstream, to: client); pair.finishedOneDirection() }.start()
        }
    }

    /// Copies bytes until either side closes, then closes both directions.
    private static func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            var sent = 0
            while sent < count {
                let written = buffer.withUnsafeBytes { bytes in
                    write(destination, bytes.baseAddress.map { $0 + sent }, count - sent)
                }
                if written <= 0 { break }
                sent += written
            }
            if sent < count { break }
        }
        shutdown(destination, Int32(SHUT_WR))
        shutdown(source, Int32(SHUT_RD))
    }
}

/// The two sockets of one forwarded connection, closed once both directions are done.
private final class SocketPair: Sendable {
    private let sockets: (Int32, Int32)
    private let remaining = Atomic<Int>(2)

    init(_ first: Int32, _ second: Int32) {
        sockets = (first, second)
    }

    func finishedOneDirection() {
        guard remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 else { return }
        Glibc.close(sockets.0)
        Glibc.close(sockets.1)
    }
}

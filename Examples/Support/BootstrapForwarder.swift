import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Listens on a fixed loopback port and forwards each connection to one
/// broker of the embedded cluster, whose own ports librdkafka 2.0.2 picks at
/// random. Clients bootstrap through the fixed port; the metadata they get
/// names the brokers' real ports, which they then use directly.
public final class BootstrapForwarder: @unchecked Sendable {
    // Safe: `listener` is written once in init and closed once in `close()`.
    private let listener: Int32
    private let target: (host: String, port: UInt16)

    /// Starts listening on 127.0.0.1:`port` and forwarding to `target` ("host:port").
    /// - Throws: an error naming the port when it cannot be bound.
    public init(port: UInt16, target: String) throws {
        let parts = target.split(separator: ":")
        guard parts.count == 2, let targetPort = UInt16(parts[1]) else { throw ForwarderError("bad target address \(target)") }
        self.target = (String(parts[0]), targetPort)
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw ForwarderError("cannot create a socket: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 64) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(listener)
            throw ForwarderError("cannot listen on 127.0.0.1:\(port): \(reason)")
        }
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "kafka-serve-forwarder"
        thread.start()
    }

    /// Stops accepting connections.
    public func close() {
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: target.port)
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
                let written = buffer.withUnsafeBytes { write(destination, $0.baseAddress! + sent, count - sent) }
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

/// Why the forwarder could not start.
public struct ForwarderError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

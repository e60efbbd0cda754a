#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Go's dial, one TCP connect per address, as a quick check before each dial attempt:
/// when every address refuses the connection or cannot be resolved, the attempt fails at
/// once instead of waiting for librdkafka, which reports "all brokers down" only once and
/// reconnects on its own schedule.
enum AddressProbe {
    /// True when some address accepted a TCP connection or did not answer within
    /// `timeout` (it may still answer librdkafka); false when every one was refused or
    /// could not be resolved.
    static func anyMayAnswer(_ addresses: [String], timeout: Duration) -> Bool {
        addresses.contains { mayAnswer($0, timeout: timeout) }
    }

    private static func mayAnswer(_ address: String, timeout: Duration) -> Bool {
        guard let (host, port) = split(address) else { return true }  // librdkafka will judge the syntax
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, port, &hints, &list) == 0, let first = list else { return false }
        defer { freeaddrinfo(first) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if connects(current.pointee, timeout: timeout) { return true }
            entry = current.pointee.ai_next
        }
        return false
    }

    /// True unless the connection was refused (or failed at once some other way).
    private static func connects(_ info: addrinfo, timeout: Duration) -> Bool {
        let socket = Glibc.socket(info.ai_family, info.ai_socktype | Int32(SOCK_NONBLOCK.rawValue), info.ai_protocol)
        guard socket >= 0 else { return true }
        defer { close(socket) }
        if connect(socket, info.ai_addr, info.ai_addrlen) == 0 { return true }
        guard errno == EINPROGRESS else { return false }
        var descriptor = pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&descriptor, 1, timeout.milliseconds)
        guard ready > 0 else { return true }  // no answer yet: not a refusal
        var failure: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(socket, SOL_SOCKET, SO_ERROR, &failure, &length)
        return failure == 0
    }

    /// "host:port", "[v6]:port" or "scheme://host:port" into host and port.
    static func split(_ address: String) -> (host: String, port: String)? {
        var rest = Substring(address)
        if let scheme = rest.firstRange(of: "://") { rest = rest[scheme.upperBound...] }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            let host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":"), after.count > 1 else { return nil }
            return (String(host), String(after.dropFirst()))
        }
        guard let colon = rest.lastIndex(of: ":"), colon != rest.startIndex else { return nil }
        let port = rest[rest.index(after: colon)...]
        guard !port.isEmpty else { return nil }
        return (String(rest[..<colon]), String(port))
    }
}

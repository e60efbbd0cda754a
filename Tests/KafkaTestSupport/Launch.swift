import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A program a test started with ``spawn(_:_:standardInput:standardOutput:standardError:)``.
/// Stop it with `kill(processIdentifier, …)` and reap it with `waitpid` or ``waitForExit()``.
public struct SpawnedProgram: Sendable {
    /// The program's process id.
    public let processIdentifier: pid_t

    /// Waits for the program to end and reaps it; its exit code, or 128 plus the signal that
    /// ended it.
    public func waitForExit() -> Int32 {
        var status: Int32 = 0
        while waitpid(processIdentifier, &status, 0) == -1 && errno == EINTR {}
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

/// Starts `executable` with `arguments` and this process's environment, its standard streams
/// on the given handles (`nil`: /dev/null), and no other descriptor of this process open.
///
/// Not Foundation's `Process.run()`: on Linux it reads each `/proc/self/fd` entry's name as a
/// whole 256-byte `d_name`, past the end of glibc's directory buffer (swift-corelibs-foundation
/// PR #5472, fixed after Swift 6.3.1). `make sanitize` caught that read in the peer tests, and a
/// test process crashed in it when the buffer ended a mapping. posix_spawn reads no directory.
/// The caller closes its own copies of the handles it passed (a pipe's write end, so that its
/// reader sees the end of the output when the program exits).
/// - Throws: `POSIXError` when the program cannot be started.
public func spawn(
    _ executable: URL, _ arguments: [String],
    standardInput: FileHandle? = nil, standardOutput: FileHandle? = nil, standardError: FileHandle? = nil
) throws -> SpawnedProgram {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    for (handle, target) in [(standardInput, STDIN_FILENO), (standardOutput, STDOUT_FILENO), (standardError, STDERR_FILENO)] {
        if let handle {
            posix_spawn_file_actions_adddup2(&actions, handle.fileDescriptor, target)
        } else {
            posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == STDIN_FILENO ? O_RDONLY : O_WRONLY, 0)
        }
    }
    // Without this the program would inherit every descriptor this process has open without
    // close-on-exec: other tests' pipes (whose readers would then wait for this program) and
    // librdkafka's sockets.
    guard let closeFrom = addCloseFrom else { throw POSIXError(.ENOSYS) }
    guard closeFrom(&actions, 3) == 0 else { throw POSIXError(.EINVAL) }
    let argv = ([executable.path] + arguments).map { strdup($0) }
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let code = (argv + [nil]).withUnsafeBufferPointer { pointers in
        posix_spawn(&pid, executable.path, &actions, nil, UnsafeMutablePointer(mutating: pointers.baseAddress!), environ)
    }
    guard code == 0 else { throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EINVAL) }
    return SpawnedProgram(processIdentifier: pid)
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), looked up at run time:
/// Swift's Glibc module leaves it out (it is declared only with `_GNU_SOURCE`).
private let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
}()

import Foundation

/// Starts `process`, one start at a time in this test process: Foundation's `Process.run()` on
/// Linux crashed (a bad pointer in its memcpy) when tests on several threads started programs at
/// once. Waiting for the programs is not serialized.
public func launch(_ process: Process) throws {
    try processStarts.withLock { try process.run() }
}

private let processStarts = NSLock()

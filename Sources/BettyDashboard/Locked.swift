#if canImport(Glibc)
import Glibc
#endif

/// A value behind a pthread mutex, for state that two threads share (the engine's and the prompt's
/// or the dashboard's).
///
/// Not `Synchronization.Mutex`: on Linux that one is built on futexes, which the thread sanitizer
/// does not model, so it reported every access through it as a race; a pthread mutex it sees, and
/// the background-run tests run under it in CI (DECISIONS.md).
public final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

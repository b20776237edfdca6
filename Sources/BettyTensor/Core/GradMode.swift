#if canImport(Glibc)
import Glibc
#endif

/// A new key for a per-thread pointer (null on every thread until set).
func threadKey(_ owner: String) -> pthread_key_t {
    var key = pthread_key_t()
    let status = pthread_key_create(&key, nil)
    precondition(status == 0, "\(owner): pthread_key_create failed with \(status)")
    return key
}

/// Whether operations record themselves for differentiation on the current thread.
///
/// Per thread, because the engine steps on a background thread while the REPL evaluates
/// expressions on the main one; a pthread key costs a few nanoseconds per operation.
@usableFromInline
enum GradMode {
    // A null value (the default on every new thread) means "enabled".
    @usableFromInline
    static let key = threadKey("GradMode")

    @inlinable
    static var isEnabled: Bool {
        get { pthread_getspecific(key) == nil }
        set { pthread_setspecific(key, newValue ? nil : UnsafeRawPointer(bitPattern: 1)) }
    }
}

/// Runs `body` with gradient recording switched off on this thread (like `torch.no_grad()`):
/// results are plain values with no graph, and parameters may be updated in place.
@inlinable
public func withoutGrad<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
    let previous = GradMode.isEnabled
    GradMode.isEnabled = false
    defer { GradMode.isEnabled = previous }
    return try body()
}

/// Runs `body` with gradient recording switched on (undoes an enclosing `withoutGrad`).
@inlinable
public func withGrad<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
    let previous = GradMode.isEnabled
    GradMode.isEnabled = true
    defer { GradMode.isEnabled = previous }
    return try body()
}

/// Whether operations on this thread currently record a graph.
public var isGradEnabled: Bool { GradMode.isEnabled }

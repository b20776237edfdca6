/// Contiguous Float32 elements in one allocation (header and elements together), counted in
/// `MemoryStats`.
///
/// A tail-allocated buffer costs one `malloc` per tensor instead of two (object plus array), which
/// matters when a training step creates hundreds of small tensors. Tensors share a storage until one
/// of them mutates it (copy-on-write in `Tensor`).
@usableFromInline
final class TensorStorage: ManagedBuffer<Int, Float> {
    @inlinable
    static func allocate(count: Int) -> TensorStorage {
        let buffer = TensorStorage.create(minimumCapacity: Swift.max(count, 1)) { _ in count }
        MemoryStats.allocated(count &* 4)
        return unsafeDowncast(buffer, to: TensorStorage.self)
    }

    @inlinable
    static func zeros(count: Int) -> TensorStorage {
        let s = allocate(count: count)
        s.pointer.initialize(repeating: 0, count: count)
        return s
    }

    deinit {
        MemoryStats.freed(count &* 4)
    }

    /// Read through the header pointer: `header` itself goes through an exclusivity check.
    @inlinable
    var count: Int { withUnsafeMutablePointerToHeader { $0.pointee } }

    /// Valid for the storage's lifetime; callers keep the storage alive (`withExtendedLifetime`)
    /// while they use it.
    @inlinable
    var pointer: UnsafeMutablePointer<Float> {
        withUnsafeMutablePointerToElements { $0 }
    }

    @inlinable
    func copy() -> TensorStorage {
        let s = TensorStorage.allocate(count: count)
        s.pointer.initialize(from: pointer, count: count)
        return s
    }
}

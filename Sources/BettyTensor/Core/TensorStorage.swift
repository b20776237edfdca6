#if canImport(Glibc)
import CMalloc
#endif

/// Contiguous Float32 elements in one allocation (header and elements together), counted in
/// `MemoryStats`.
///
/// A tail-allocated buffer costs one `malloc` per tensor instead of two (object plus array), which
/// matters when a training step creates hundreds of small tensors. Tensors share a storage until one
/// of them mutates it (copy-on-write in `Tensor`).
@usableFromInline
struct StorageHeader {
    @usableFromInline var count: Int
    @usableFromInline var planTag: UInt64 = 0
    @inlinable init(count: Int) { self.count = count }
}

@usableFromInline
final class TensorStorage: ManagedBuffer<StorageHeader, Float> {
    /// A new buffer that no recorded kernel writes: data, constants, copies. While a step plan
    /// records, one made inside a backward pass would be a value the plan cannot reproduce, unless it
    /// is a constant (`constant`), which the plan keeps.
    @inlinable
    static func allocate(count: Int, constant: Bool = false, site: StaticString = #function) -> TensorStorage {
        let s = allocate(count: count, traced: true)
        if let plan = StepPlan.current { plan.untracedAllocation(s, constant: constant, site: site) }
        return s
    }

    /// A new buffer for the output of a kernel call (`compute`).
    @inlinable
    static func allocate(count: Int, traced: Bool) -> TensorStorage {
        if count >= 32_768 { keepLargeBlocksInHeap() }
        let buffer = TensorStorage.create(minimumCapacity: Swift.max(count, 1)) { _ in StorageHeader(count: count) }
        MemoryStats.allocated(count &* 4)
        return unsafeDowncast(buffer, to: TensorStorage.self)
    }

    /// Zeros: a constant.
    @inlinable
    static func zeros(count: Int) -> TensorStorage {
        let s = allocate(count: count, constant: true)
        s.pointer.initialize(repeating: 0, count: count)
        return s
    }

    /// glibc serves blocks above 128 KiB with a fresh mmap and returns freed heap tops to the system,
    /// so a training step that frees and reallocates its weight-sized tensors page-faults on every
    /// page of them each time (5% of a Meta-Weight-Net iteration, and the zeroing that follows).
    /// Raising both thresholds keeps such blocks in the heap for reuse; peak RSS is unchanged.
    @usableFromInline
    static func keepLargeBlocksInHeap() { _ = allocatorTuned }

    private static let allocatorTuned: Bool = {
        #if canImport(Glibc)
        // 32 MiB is glibc's largest mmap threshold on 64-bit; setting it also stops the dynamic one.
        return mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1
        #else
        return false
        #endif
    }()

    deinit {
        MemoryStats.freed(count &* 4)
    }

    /// Read through the header pointer: `header` itself goes through an exclusivity check.
    @inlinable
    var count: Int { withUnsafeMutablePointerToHeader { $0.pointee.count } }

    /// Which buffer of which step plan this is (`StepPlan`), 0 for any other storage.
    @inlinable
    var planTag: UInt64 {
        get { withUnsafeMutablePointerToHeader { $0.pointee.planTag } }
        set { withUnsafeMutablePointerToHeader { $0.pointee.planTag = newValue } }
    }

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

import BettyTensor

/// A trainable tensor owned by a module: a leaf that requires a gradient, updated in place by
/// optimizers (outside gradient recording) and swapped by functional calls.
///
/// A class because identity matters: the optimizer's state, the module and a checkpoint all refer
/// to the same parameter.
public final class Parameter: @unchecked Sendable {
    /// The current value, always a leaf that requires a gradient.
    public var value: Tensor

    public init(_ initial: Tensor) {
        value = initial.detached().requiringGrad()
    }

    public var shape: Shape { value.shape }
    public var grad: Tensor? { value.grad }
    public func zeroGrad() { value.zeroGrad() }

    /// Replaces the value in place (same shape), outside gradient recording: what a step does.
    public func assign(_ newValue: Tensor) {
        precondition(newValue.shape == value.shape,
                     "Parameter.assign: shape \(newValue.shape) does not match \(value.shape)")
        withoutGrad {
            newValue.withUnsafeBufferPointer { src in
                value.withUnsafeMutableBufferPointer { dst in
                    _ = dst.update(fromContentsOf: src)
                }
            }
        }
    }
}

/// Non-trainable state of a module (running statistics): saved in checkpoints, never differentiated.
public final class Buffer: @unchecked Sendable {
    public var value: Tensor

    public init(_ initial: Tensor) { value = initial.detached() }
}

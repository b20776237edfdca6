import BettyTensor

/// A layer or a network of layers: a function of a tensor with named parameters and buffers.
///
/// Conforming types list their own parameters, buffers and sub-modules; everything else (recursive
/// names such as `"fc1.weight"`, train/eval, functional calls) comes from the extension. Names are in
/// a stable order, so optimizers, checkpoints and the REPL can address parameters by position or name.
public protocol Module: AnyObject {
    /// This module's own parameters, by local name.
    var ownParameters: [(name: String, parameter: Parameter)] { get }
    /// This module's own buffers, by local name.
    var ownBuffers: [(name: String, buffer: Buffer)] { get }
    /// Direct sub-modules, by local name.
    var children: [(name: String, module: any Module)] { get }
    /// Training (dropout active, batch statistics) or evaluation mode, for this module only.
    var isTraining: Bool { get set }

    func callAsFunction(_ input: Tensor) throws(TensorError) -> Tensor
}

extension Module {
    public var ownParameters: [(name: String, parameter: Parameter)] { [] }
    public var ownBuffers: [(name: String, buffer: Buffer)] { [] }
    public var children: [(name: String, module: any Module)] { [] }

    /// Every parameter of this module and its descendants, named by path (`"layers.0.weight"`).
    public var namedParameters: [(name: String, parameter: Parameter)] {
        var out = ownParameters
        for (childName, child) in children {
            out += child.namedParameters.map { (childName + "." + $0.name, $0.parameter) }
        }
        return out
    }

    /// Every buffer of this module and its descendants, named by path.
    public var namedBuffers: [(name: String, buffer: Buffer)] {
        var out = ownBuffers
        for (childName, child) in children {
            out += child.namedBuffers.map { (childName + "." + $0.name, $0.buffer) }
        }
        return out
    }

    /// The parameters in `namedParameters` order.
    public var parameters: [Parameter] { namedParameters.map(\.parameter) }

    /// Current parameter values (leaves), in `namedParameters` order.
    public var parameterValues: [Tensor] { parameters.map(\.value) }

    /// Total number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Switches this module and all descendants to training mode.
    public func train() { setTraining(true) }
    /// Switches this module and all descendants to evaluation mode.
    public func eval() { setTraining(false) }

    public func setTraining(_ training: Bool) {
        isTraining = training
        for (_, child) in children { child.setTraining(training) }
    }

    /// Forgets accumulated gradients of every parameter.
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }

    /// Runs `body` with the parameters temporarily replaced by `values` (same order and shapes as
    /// `namedParameters`), so a module can be evaluated at perturbed or unrolled parameters and the
    /// result differentiated with respect to `values` (what Betty takes from functorch).
    public func withParameters<R>(
        _ values: [Tensor], _ body: () throws(TensorError) -> R
    ) throws(TensorError) -> R {
        let params = parameters
        guard values.count == params.count else {
            throw .invalidArgument(op: "functional call",
                message: "\(values.count) parameter tensors given but the module has \(params.count)")
        }
        for (i, (p, v)) in zip(params, values).enumerated() where p.value.shape != v.shape {
            throw .shapeMismatch(op: "functional call", shapes: [p.value.shape, v.shape],
                hint: "parameter \(namedParameters[i].name) must keep its shape")
        }
        let saved = params.map(\.value)
        for (p, v) in zip(params, values) { p.value = v }
        defer { for (p, v) in zip(params, saved) { p.value = v } }
        return try body()
    }

    /// `self(input)` evaluated with `values` in place of the parameters.
    public func callAsFunction(_ input: Tensor, parameters values: [Tensor]) throws(TensorError) -> Tensor {
        try withParameters(values) { () throws(TensorError) -> Tensor in try self(input) }
    }
}

/// The shape check every layer makes on its input, with a message that names the layer.
func expectFeatures(_ input: Tensor, _ features: Int, axis: Int = -1, layer: String) throws(TensorError) {
    let ax = axis < 0 ? input.rank + axis : axis
    guard ax >= 0, ax < input.rank, input.shape[ax] == features else {
        throw .invalidArgument(op: layer,
            message: "expects \(features) features along axis \(axis), got input of shape \(input.shape)")
    }
}

/// The `weight` and optional `bias` of a layer, in that order.
func weightAndBias(_ weight: Parameter, _ bias: Parameter?) -> [(name: String, parameter: Parameter)] {
    if let bias { return [("weight", weight), ("bias", bias)] }
    return [("weight", weight)]
}

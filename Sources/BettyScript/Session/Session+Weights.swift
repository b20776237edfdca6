import Betty
import BettyNN

/// `save weights NAME "FILE"` and `load weights "FILE" into NAME`: one problem's module as a
/// PyTorch state dict in safetensors (`Module.saveWeights`/`loadWeights`: PyTorch's names and
/// layouts, F32 written, F16/BF16/F64 converted on load), the bridge to `torch.nn.Module`.
extension Session {
    func saveWeights(of name: Name, to path: String, at location: SourceLocation) throws(ScriptError) {
        let module = try program.problem(name).module
        do {
            try module.saveWeights(to: path)
        } catch {
            throw ScriptError("cannot save the weights of \(name.text): \(error)", at: location)
        }
        let count = module.stateDict.count
        output.text("saved the weights of \(name.text) (\(count) tensor\(count == 1 ? "" : "s"), \(module.parameterCount) parameters) to \(path)")
    }

    /// Parameters and buffers only: the optimizer's state, counters and loaders are kept, as
    /// `load_state_dict` on a module does. Nothing changes unless every name, shape and dtype fits.
    func loadWeights(from path: String, into name: Name, at location: SourceLocation) throws(ScriptError) {
        let module = try program.problem(name).module
        if let engine = program.engine, let (steps, length) = engine.openWindow(of: name.text) {
            throw ScriptError("cannot load weights into \(name.text) inside its unrolled window (\(steps) of \(length) steps taken): its parameters are nodes of a recorded graph; load after \(length - steps) more local step\(length - steps == 1 ? "" : "s") of \(name.text), when the window closes", at: location)
        }
        do {
            try module.loadWeights(from: path)
        } catch {
            throw ScriptError("\(error)", at: location)
        }
        let count = module.stateDict.count
        output.text("loaded \(path) into \(name.text) (\(count) tensor\(count == 1 ? "" : "s"), \(module.parameterCount) parameters)")
    }
}

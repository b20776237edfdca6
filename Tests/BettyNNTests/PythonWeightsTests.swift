import Foundation
import Testing
import BettyTensor
import BettyNN

/// Weights across the bridge, checked by Python's own `safetensors` (Tests/python/check_weights.py)
/// when `BETTY_PYTHON` names a Python with numpy and safetensors (.ci/run makes one); otherwise each
/// test prints that it was skipped and why. The torch checks run when `import torch` works there
/// (CI does not install it) and print that they were skipped otherwise.
@Suite(.serialized) struct PythonWeightsTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("python/check_weights.py").path

    /// The Python to use, or nil after printing why these checks are skipped.
    static func python(_ test: String) -> String? {
        guard let python = ProcessInfo.processInfo.environment["BETTY_PYTHON"], !python.isEmpty else {
            print("PythonWeightsTests.\(test) skipped: BETTY_PYTHON is not set (the path of a python with numpy and safetensors runs this test)")
            return nil
        }
        let probe = try? NumPyRoundTripTests.run(python, ["-c", "import numpy, safetensors.numpy"])
        guard let probe, probe.status == 0 else {
            print("PythonWeightsTests.\(test) skipped: BETTY_PYTHON=\(python) cannot import numpy and safetensors: \(probe?.output.split(separator: "\n").last ?? "it does not run")")
            return nil
        }
        return python
    }

    static func checkWeights(_ python: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let result = try NumPyRoundTripTests.run(python, [script] + arguments)
        print("check_weights.py \(arguments.first ?? ""): \(result.output)")
        return result
    }

    static func maxError(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.scalars, b.scalars).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    }

    /// `[Linear(4, 8), BatchNorm(8), relu, Linear(8, 3)]`, PyTorch's `nn.Sequential` of the same layers.
    static func torchLikeNet(seed: UInt64) throws -> Sequential {
        var g = RandomGenerator(seed: seed)
        let net = Sequential([Linear(4, 8, using: &g), BatchNorm(8), Activation(.relu), Linear(8, 3, using: &g)])
        _ = try net(Tensor.randomNormal([16, 4], using: &g))
        net.eval()
        return net
    }

    /// (a) What `saveWeights` wrote, read by `safetensors.numpy.load_file`, is the same tensors.
    @Test func pythonReadsOurWeightsAsWeWroteThem() throws {
        guard let python = Self.python("pythonReadsOurWeightsAsWeWroteThem") else { return }
        try withWeightsDirectory { directory in
            var g = RandomGenerator(seed: 5)
            let net = Sequential([Conv2d(2, 3, kernel: (3, 3), using: &g), BatchNorm(3), Activation(.relu), Flatten(),
                                  Linear(12, 2, using: &g)])
            _ = try net(Tensor.randomNormal([4, 2, 4, 4], using: &g))
            try net.saveWeights(to: directory + "/ours.safetensors")
            let result = try Self.checkWeights(python, ["export", directory, directory + "/ours.safetensors"])
            try #require(result.status == 0, "\(result.output)")
            for (name, tensor) in net.stateDict {
                let read = try NPYReader.read(path: "\(directory)/ours/\(name).npy")
                #expect(read.shape == tensor.shape && read.scalars.map(\.bitPattern) == tensor.scalars.map(\.bitPattern), "\(name)")
            }
            #expect(result.output.contains("ours: \(net.stateDict.count) tensors"))
        }
    }

    /// (b) A state dict numpy wrote under PyTorch's names (F32, F16 and F64) loads into our MLP and
    /// gives the logits numpy computes, to 1e-5.
    @Test func aStateDictNumPyWroteGivesNumPysLogits() throws {
        guard let python = Self.python("aStateDictNumPyWroteGivesNumPysLogits") else { return }
        try withWeightsDirectory { directory in
            let result = try Self.checkWeights(python, ["mlp", directory])
            try #require(result.status == 0, "\(result.output)")
            let x = try NPYReader.read(path: directory + "/x.npy")
            for kind in ["f32", "f16", "f64"] {
                var g = RandomGenerator(seed: 1)
                let mlp = MLP([4, 8, 3], using: &g)
                try mlp.loadWeights(from: "\(directory)/mlp_\(kind).safetensors")
                let logits = try mlp(x)
                let expected = try NPYReader.read(path: "\(directory)/logits_\(kind).npy")
                #expect(logits.shape == [5, 3] && expected.shape == [5, 3])
                #expect(Self.maxError(logits, expected) <= 1e-5, "\(kind): \(logits.scalars) vs \(expected.scalars)")
            }
        }
    }

    /// (c) With torch: its nn.Sequential's state_dict loads into ours and gives its logits, and ours
    /// loads into it with `load_state_dict(strict=True)` and gives ours.
    @Test func aRealTorchSequentialInBothDirections() throws {
        guard let python = Self.python("aRealTorchSequentialInBothDirections") else { return }
        try withWeightsDirectory { directory in
            let written = try Self.checkWeights(python, ["torch-write", directory])
            if written.status == 3 {
                print("PythonWeightsTests.aRealTorchSequentialInBothDirections: the torch check was skipped: BETTY_PYTHON=\(python) cannot import torch (CI does not install it)")
                return
            }
            try #require(written.status == 0, "\(written.output)")
            let x = try NPYReader.read(path: directory + "/torch_x.npy")

            let fromTorch = try Self.torchLikeNet(seed: 2)
            try fromTorch.loadWeights(from: directory + "/torch.safetensors")
            let expected = try NPYReader.read(path: directory + "/torch_logits.npy")
            let logits = try fromTorch(x)
            #expect(Self.maxError(logits, expected) <= 1e-5, "torch -> ours: \(logits.scalars) vs \(expected.scalars)")

            let ours = try Self.torchLikeNet(seed: 3)
            try ours.saveWeights(to: directory + "/ours.safetensors")
            let read = try Self.checkWeights(python, ["torch-read", directory])
            try #require(read.status == 0, "\(read.output)")
            let theirs = try NPYReader.read(path: directory + "/torch_logits_of_ours.npy")
            let mine = try ours(x)
            #expect(Self.maxError(theirs, mine) <= 1e-5, "ours -> torch: \(theirs.scalars) vs \(mine.scalars)")
            print("PythonWeightsTests: torch -> ours max error \(Self.maxError(logits, expected)), ours -> torch \(Self.maxError(theirs, mine))")
        }
    }
}

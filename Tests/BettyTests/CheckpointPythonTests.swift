import Foundation
import Testing
import BettyNN
import BettyTensor
import Betty

/// A whole-program checkpoint read by Python's own `safetensors.numpy.load_file`
/// (Tests/python/check_weights.py export) gives the tensors we wrote, bit for bit, when
/// `BETTY_PYTHON` names a Python with numpy and safetensors; otherwise the test prints why it
/// was skipped.
@Suite struct CheckpointPythonTests {
    @Test func pythonsSafetensorsReadsOurCheckpoint() throws {
        guard let python = ProcessInfo.processInfo.environment["BETTY_PYTHON"], !python.isEmpty else {
            print("CheckpointPythonTests skipped: BETTY_PYTHON is not set (the path of a python with numpy and safetensors runs this test)")
            return
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("python/check_weights.py").path
        try withTemporaryDirectory { directory in
            let engine = try TinyHPO.make()
            _ = try engine.run(iterations: 6)
            let path = directory + "/run.safetensors"
            try engine.saveCheckpoint(to: path)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [python, script, "export", directory, path]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            print("check_weights.py export (\(python)): \(output)")
            guard process.terminationStatus == 0 else {
                if output.contains("No module named") {
                    print("CheckpointPythonTests skipped: BETTY_PYTHON=\(python) cannot import numpy and safetensors")
                    return
                }
                Issue.record("check_weights.py failed: \(output)")
                return
            }
            let (tensors, _) = try SafeTensors.read(path: path)
            #expect(tensors.count > 10)
            #expect(output.contains("run: \(tensors.count) tensors read by safetensors.numpy.load_file"))
            for (name, tensor) in tensors {
                let read = try NPYReader.read(path: "\(directory)/run/\(name).npy")
                #expect(read.shape == tensor.shape && read.scalars.map(\.bitPattern) == tensor.scalars.map(\.bitPattern), "\(name)")
            }
        }
    }
}

import Foundation
import Testing
import BettyTensor
import BettyNN

/// Archives and CIFAR batches written by NumPy itself, when `BETTY_PYTHON` names a Python with
/// NumPy (CI sets it up); otherwise the test says it was skipped and why. The other tests need no
/// Python: they write the same layouts themselves and embed archives NumPy wrote once.
@Suite(.serialized) struct NumPyRoundTripTests {
    /// What NumPy writes, one dtype per array, in both kinds of archive; and CIFAR batches made from
    /// `[N, 32, 32, 3]` images (height, width, channel) as the distribution lays them out.
    static let script = #"""
        import sys, numpy as np
        d = sys.argv[1]
        arrays = dict(
            f32=np.array([[0.5, -1.25, 3e-3], [1e6, -0.0, 7]], np.float32),
            f64=np.array([1 / 3, -2.5, 1e10]),
            i64=np.array([-3, 0, 2**40, 2**53], np.int64),
            u8=np.arange(0, 256, 51, dtype=np.uint8),
            cube=(np.arange(24, dtype=np.int32).reshape(2, 3, 4) - 12),
            big=(np.arange(200000, dtype=np.float32) % 17).reshape(200, 1000),
            mask=np.array([True, False, True]),
            f16=np.array([1.5, 2], np.float16),
            big_endian=np.array([1, 2], '>f4'),
        )
        np.savez(d + '/stored.npz', *[arrays['f32']], **{k: v for k, v in arrays.items() if k != 'f32'})
        np.savez_compressed(d + '/deflated.npz', *[arrays['f32']], **{k: v for k, v in arrays.items() if k != 'f32'})
        n, c, h, w = np.meshgrid(np.arange(5), np.arange(3), np.arange(32), np.arange(32), indexing='ij')
        images = ((n * 31 + c * 101 + h * 7 + w * 3) % 256).astype(np.uint8).transpose(0, 2, 3, 1)
        pixels = images.transpose(0, 3, 1, 2).reshape(5, -1)
        labels = np.array([3, 0, 9, 5, 1], np.uint8)
        np.concatenate([labels[:, None], pixels], axis=1).tofile(d + '/data_batch_1.bin')
        coarse, fine = np.array([4, 19, 0, 7, 11], np.uint8), np.array([77, 99, 0, 40, 3], np.uint8)
        np.concatenate([coarse[:, None], fine[:, None], pixels], axis=1).tofile(d + '/train.bin')
        print(np.__version__)
        """#

    /// Runs `python` (a path, or a name looked up in PATH) with `arguments`; its exit status and output.
    static func run(_ python: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test func archivesAndBatchesNumPyWritesLoadWithTheirValues() throws {
        guard let python = ProcessInfo.processInfo.environment["BETTY_PYTHON"], !python.isEmpty else {
            print("NumPyRoundTripTests skipped: BETTY_PYTHON is not set (the path of a python with numpy runs this test)")
            return
        }
        let probe = try? Self.run(python, ["-c", "import numpy"])
        guard let probe, probe.status == 0 else {
            print("NumPyRoundTripTests skipped: BETTY_PYTHON=\(python) cannot import numpy: \(probe?.output.split(separator: "\n").last ?? "it does not run")")
            return
        }
        let directory = NSTemporaryDirectory() + "betty-numpy-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let written = try Self.run(python, ["-c", Self.script, directory])
        try #require(written.status == 0, "the script failed: \(written.output)")
        print("NumPyRoundTripTests: archives and CIFAR batches written by numpy \(written.output)")

        for kind in ["stored", "deflated"] {
            let archive = try NPZArchive(path: "\(directory)/\(kind).npz")
            #expect(Set(archive.names) == ["arr_0", "f64", "i64", "u8", "cube", "big", "mask", "f16", "big_endian"], "\(kind)")
            let f32 = try archive.array("arr_0")
            #expect(f32.shape == [2, 3] && f32.scalars == [0.5, -1.25, 3e-3, 1e6, -0.0, 7], "\(kind)")
            #expect(try archive.array("f64").scalars == [Float(1.0 / 3.0), -2.5, 1e10], "\(kind)")
            #expect(try archive.array("i64").scalars == [-3, 0, Float(1 << 40), Float(1 << 53)], "\(kind)")
            #expect(try archive.array("u8").scalars == [0, 51, 102, 153, 204, 255], "\(kind)")
            let cube = try archive.array("cube")
            #expect(cube.shape == [2, 3, 4] && cube.scalars == (0..<24).map { Float($0 - 12) }, "\(kind)")
            let big = try archive.array("big")
            #expect(big.shape == [200, 1000] && big.scalars == (0..<200_000).map { Float($0 % 17) }, "\(kind)")
            // What NPYReader does not read is refused, naming the archive, member and dtype.
            let path = "\(directory)/\(kind).npz"
            for (name, descr) in [("mask", "|b1"), ("f16", "<f2"), ("big_endian", ">f4")] {
                #expect(throws: DataError.unsupported(path: path, reason: "member \(name).npy: dtype \(descr) is not supported (f4, f8, u1, i1, i4, i8, little-endian)")) {
                    try archive.array(name)
                }
            }
        }

        var pixels: [Float] = []
        for n in 0..<5 { for c in 0..<3 { for h in 0..<32 { for w in 0..<32 {
            pixels.append(Float((n * 31 + c * 101 + h * 7 + w * 3) % 256))
        } } } }
        let ten = try CIFARReader.read(paths: ["\(directory)/data_batch_1.bin"], .cifar10)
        #expect(ten.x.shape == [5, 3, 32, 32] && ten.x.scalars == pixels)
        #expect(ten.y.scalars == [3, 0, 9, 5, 1])
        let fine = try CIFARReader.read(paths: ["\(directory)/train.bin"], .cifar100(labels: .fine))
        #expect(fine.x.scalars == pixels && fine.y.scalars == [77, 99, 0, 40, 3])
        let coarse = try CIFARReader.read(paths: ["\(directory)/train.bin"], .cifar100(labels: .coarse))
        #expect(coarse.y.scalars == [4, 19, 0, 7, 11])
    }
}

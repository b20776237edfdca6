import Foundation
import Testing
import BettyTensor
import BettyNN

@Suite struct DataTests {
    @Test func builtinDatasetsLoadWithTheirShapes() throws {
        let digits = try BuiltinDataset.digits.load()
        #expect(digits.x.shape == [1797, 64])
        #expect(try digits.labels(classes: 10).count == 1797)
        let mnist = try BuiltinDataset.mnist5k.load()
        #expect(mnist.x.shape == [5000, 784])
        // 500 per class, raw pixels 0-255.
        #expect(try mnist.labels().filter { $0 == 3 }.count == 500)
        #expect(mnist.x.max().scalar == 255)
    }

    @Test func npyRoundTripOfEveryDtype() throws {
        for (descr, width, encode) in [
            ("<f4", 4, { (v: Float) -> [UInt8] in withUnsafeBytes(of: v) { Array($0) } }),
            ("<f8", 8, { (v: Float) -> [UInt8] in withUnsafeBytes(of: Double(v)) { Array($0) } }),
            ("|u1", 1, { (v: Float) -> [UInt8] in [UInt8(v)] }),
            ("<i4", 4, { (v: Float) -> [UInt8] in withUnsafeBytes(of: Int32(v)) { Array($0) } }),
            ("<i8", 8, { (v: Float) -> [UInt8] in withUnsafeBytes(of: Int64(v)) { Array($0) } }),
        ] as [(String, Int, (Float) -> [UInt8])] {
            let values: [Float] = [0, 1, 2, 7, 42, 200]
            let data = Self.npy(descr: descr, shape: "(2, 3)", payload: values.flatMap(encode))
            let t = try NPYReader.parse(data)
            #expect(t.shape == [2, 3], "\(descr)")
            #expect(t.scalars == values, "\(descr)")
            _ = width
        }
    }

    @Test func npyErrorsNameTheFileAndTheProblem() throws {
        #expect(throws: DataError.fileNotFound(path: "/no/such.npy")) { try NPYReader.read(path: "/no/such.npy") }
        let truncated = Self.npy(descr: "<f4", shape: "(2, 3)", payload: [UInt8](repeating: 0, count: 20))
        #expect { try NPYReader.parse(truncated, path: "t.npy") } throws: { "\($0)".contains("t.npy") && "\($0)".contains("24 bytes") }
        let complex = Self.npy(descr: "<c8", shape: "(1,)", payload: [UInt8](repeating: 0, count: 8))
        #expect { try NPYReader.parse(complex, path: "c.npy") } throws: { "\($0)".contains("<c8") }
        let fortran = Self.npy(descr: "<f4", shape: "(1,)", payload: [0, 0, 0, 0], fortran: true)
        #expect { try NPYReader.parse(fortran) } throws: { "\($0)".contains("Fortran") }
        #expect { try NPYReader.parse(Data([1, 2, 3])) } throws: { "\($0)".contains("magic") }
    }

    @Test func loaderShufflesDeterministicallyAndCountsEpochs() throws {
        let data = try Dataset(x: Tensor((0..<10).map(Float.init)).reshaped(to: [10, 1]), y: Tensor((0..<10).map(Float.init)))
        let a = try DataLoader(data, batchSize: 4, seed: 3), b = try DataLoader(data, batchSize: 4, seed: 3)
        var seen: [Int] = []
        for _ in 0..<3 {
            let batch = a.next()
            #expect(batch.indices == b.next().indices)
            #expect(batch.y.scalars == batch.indices.map(Float.init))
            seen += batch.indices
        }
        // 4 + 4 + 2: one epoch covers every sample once.
        #expect(seen.sorted() == Array(0..<10))
        #expect(a.epoch == 0)
        _ = a.next()
        #expect(a.epoch == 1)
        let dropping = try DataLoader(data, batchSize: 4, dropLast: true, seed: 3)
        #expect(dropping.batchesPerEpoch == 2)
        for _ in 0..<5 { #expect(dropping.next().indices.count == 4) }
        #expect(throws: DataError.self) { try DataLoader(data, batchSize: 0) }
    }

    @Test func perClassSplitAndImbalance() throws {
        let mnist = try BuiltinDataset.mnist5k.load()
        let parts = try mnist.splitPerClass(counts: [400, 10, 90], seed: 0)
        #expect(parts.map(\.count) == [4000, 100, 900])
        let train = try parts[0].imbalanced(factor: 100, seed: 1)
        let counts = (0..<10).map { c in (try? train.labels().filter { $0 == c }.count) ?? 0 }
        // Geometric decay from 400 to 400/100 = 4: class c keeps floor(400 * 100^(-c/9)).
        #expect(counts == [400, 239, 143, 86, 51, 30, 18, 11, 6, 4])
        // A seeded random choice within each class, not the first ones in dataset order.
        let allLabels = try parts[0].labels(), keptLabels = try train.labels()
        let rare = try parts[0].subset(allLabels.indices.filter { allLabels[$0] == 9 })
        let kept = try train.subset(keptLabels.indices.filter { keptLabels[$0] == 9 })
        #expect(kept.x.scalars != Array(rare.x.scalars.prefix(4 * 784)))
        #expect(try parts[0].imbalanced(factor: 100, seed: 1).x.scalars == train.x.scalars)
        #expect(try parts[0].imbalanced(factor: 100, seed: 2).x.scalars != train.x.scalars)
    }

    @Test func aStrayLargeLabelCostsNothingInPerClassOperations() throws {
        // Class 2^24 next to classes 0 and 1: grouping by dense class index would make 16 million
        // empty groups.
        let data = try Dataset(x: Tensor([1, 2, 3, 4, 5, 6]).reshaped(to: [6, 1]), y: Tensor([0, 0, 1, 1, 16_777_216, 16_777_216]))
        let start = ContinuousClock.now
        // Class 0 keeps its 2 samples; the two classes above keep at least one each.
        let kept = try data.imbalanced(factor: 2, seed: 0)
        #expect(try kept.labels().filter { $0 == 0 }.count == 2)
        #expect(try kept.labels().contains(16_777_216))
        // Class 2 is the first with no samples, and the split says so.
        #expect { try data.splitPerClass(counts: [1], seed: 0) } throws: { "\($0)".contains("class 2 has 0 samples") }
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(throws: DataError.self) { try data.splitPerClass(counts: [-1, 2], seed: 0) }
    }

    @Test func labelsBeyondWhatFloat32CountsExactlyAreRefusedNotConverted() throws {
        // 1e30 and infinity once trapped converting to Int.
        for label: Float in [1e30, .infinity, 16_777_218] {
            let data = try Dataset(x: Tensor([1, 2]).reshaped(to: [2, 1]), y: Tensor([0, label]))
            #expect { try data.labels() } throws: { "\($0)".contains("at sample 1 is ") && "\($0)".hasSuffix("; class labels are whole numbers from 0 to 16777216") }
        }
    }

    @Test func labelNoiseChangesAboutTheRatio() throws {
        let digits = try BuiltinDataset.digits.load()
        let noisy = try digits.withLabelNoise(.flip, ratio: 0.4, classes: 10, seed: 1)
        let changed = zip(try digits.labels(), try noisy.labels()).filter { $0 != $1 }.count
        // Binomial(1797, 0.4): mean 719, sd 21; ±100 is nearly 5 sd.
        #expect(Swift.abs(changed - 719) < 100)
    }

    @Test func splitByCountsGivesExactSizesAndTheSamePartsAsFractions() throws {
        let digits = try BuiltinDataset.digits.load()
        let byCount = try digits.split(counts: [400, 997, 3], seed: 5)
        #expect(byCount.map(\.count) == [400, 997, 3])
        let byFraction = try digits.split(fractions: [0.5, 0.25], seed: 5)
        let same = try digits.split(counts: byFraction.map(\.count), seed: 5)
        #expect(zip(byFraction, same).allSatisfy { $0.x.scalars == $1.x.scalars && $0.y.scalars == $1.y.scalars })
        #expect(throws: DataError.self) { try digits.split(counts: [1000, 1000], seed: 0) }
        #expect(throws: DataError.self) { try digits.split(counts: [-1], seed: 0) }
    }

    @Test func mlpOnDigitsReaches95PercentTestAccuracy() throws {
        let digits = try BuiltinDataset.digits.load()
        let parts = try digits.split(fractions: [0.8, 0.2], seed: 0)
        var gen = RandomGenerator(seed: 0)
        let model = MLP([64, 128, 10], using: &gen)
        let optimizer = SGD(model.parameters, learningRate: 0.1, momentum: 0.9)
        let loader = try DataLoader(parts[0], batchSize: 64, seed: 0)
        for _ in 0..<(loader.batchesPerEpoch * 30) {
            let batch = loader.next()
            let loss = try crossEntropy(model(batch.x), batch.y)
            try optimizer.step(gradients: grad(of: loss, wrt: model.parameterValues))
        }
        model.eval()
        let acc = try withoutGrad { try accuracy(model(parts[1].x), parts[1].y) }
        #expect(acc >= 0.95, "test accuracy \(acc)")
    }

    @Test func logisticGeneratorFollowsBettysDefinition() throws {
        let a = try Dataset.logistic(samples: 1000, features: 20, seed: 0)
        let b = try Dataset.logistic(samples: 1000, features: 20, seed: 0)
        #expect(a.x.shape == [1000, 20] && a.y.shape == [1000])
        #expect(a.x.scalars == b.x.scalars && a.y.scalars == b.y.scalars)
        // Labels are 0/1 from a noisy linear rule: both classes appear in roughly equal numbers
        // (x·w is symmetric about 0), and a logistic fit separates them almost perfectly.
        let positives = a.y.scalars.filter { $0 == 1 }.count
        #expect(a.y.scalars.allSatisfy { $0 == 0 || $0 == 1 })
        #expect(positives > 350 && positives < 650)
        let w = Tensor.zeros([20]).requiringGrad()
        var current = w
        for _ in 0..<200 {
            let loss = try binaryCrossEntropyWithLogits(a.x.matmul(current), a.y)
            let g = try grad(of: loss, wrt: current)
            current = try (current.detached() - 1.0 * g).requiringGrad()
        }
        let predictions = try (a.x.matmul(current) .> 0) .== a.y
        // Noise 0.1 against |x·w| ~ 4.5: all but a few percent of labels follow the rule.
        #expect(predictions.mean().scalar > 0.95)
    }

    @Test func sinusoidTasksDrawAmplitudeAndPhaseInRange() throws {
        var tasks = SinusoidTasks(seed: 4)
        for _ in 0..<20 {
            let task = try tasks.next(support: 10, query: 15)
            #expect(task.amplitude >= 0.1 && task.amplitude <= 5)
            #expect(task.phase >= 0 && task.phase <= .pi)
            #expect(task.support.x.shape == [10, 1] && task.query.y.shape == [15, 1])
            for (x, y) in zip(task.query.x.scalars, task.query.y.scalars) {
                #expect(x >= -5 && x <= 5)
                // y = A sin(x - φ) evaluated with our sin polynomial: a few ulp of A.
                #expect(Swift.abs(y - task.amplitude * Foundation.sin(x - task.phase)) < 1e-5)
            }
        }
        var first = SinusoidTasks(seed: 4), second = SinusoidTasks(seed: 4)
        let t1 = try first.next(support: 5, query: 5), t2 = try second.next(support: 5, query: 5)
        #expect(t1.amplitude == t2.amplitude && t1.query.y.scalars == t2.query.y.scalars)
    }

    /// A version 1.0 .npy file.
    static func npy(descr: String, shape: String, payload: [UInt8], fortran: Bool = false) -> Data {
        var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
        bytes += [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        bytes += Array(header.utf8) + payload
        return Data(bytes)
    }
}

import Testing
import BettyTensor
import BettyNN
import _TestSupport

// MARK: - Sample statistics

private struct Stats {
    var mean: Double, variance: Double, minimum: Float, maximum: Float, count: Int

    init(_ t: Tensor) {
        let xs = t.scalars
        count = xs.count
        mean = xs.reduce(0.0) { $0 + Double($1) } / Double(count)
        let m = mean
        variance = xs.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(count)
        minimum = xs.min()!
        maximum = xs.max()!
    }

    var std: Double { variance.squareRoot() }
    /// The largest magnitude.
    var bound: Float { Swift.max(-minimum, maximum) }
}

@Suite struct LayerTests {
    // MARK: Initializers

    // A [200, 784] weight has N = 156,800 draws. For U(-b, b) the sample mean has standard error
    // b/√(3N) and the sample variance b²/3 has relative standard error √(0.8/N) = 0.23%; for a normal
    // the sample std has relative standard error 1/√(2N) = 0.18%. The tolerances below are ≥ 5
    // standard errors (about 1 in 3.5 million by chance; the seed is fixed anyway) and each is far
    // smaller than the factor-of-√2 or more that a wrong fan or gain would cause.
    private static let shape: Shape = [200, 784]
    private static let n = 156_800.0

    /// Checks U(-b, b): every value within b (one Float32 rounding of slack), the extremes near ±b,
    /// mean ~0 and variance b²/3.
    private func expectUniform(_ t: Tensor, bound b: Double, _ what: String,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        let s = Stats(t)
        #expect(Double(s.bound) <= b * (1 + 1e-6), "\(what): |value| up to \(s.bound) > \(b)",
                sourceLocation: sourceLocation)
        // With 156,800 draws the largest lands within b/1000 of the bound except with chance e^-157.
        #expect(Double(s.bound) >= b * 0.99, "\(what): largest |value| \(s.bound) far below \(b)",
                sourceLocation: sourceLocation)
        // 5 standard errors of the mean.
        #expect(Swift.abs(s.mean) <= 5 * b / (3 * Self.n).squareRoot(), "\(what): mean \(s.mean)",
                sourceLocation: sourceLocation)
        // 2% ≈ 9 standard errors of the variance.
        #expect(Swift.abs(s.variance / (b * b / 3) - 1) <= 0.02, "\(what): variance \(s.variance) vs \(b * b / 3)",
                sourceLocation: sourceLocation)
    }

    /// Checks N(mean, std²): sample mean within 5 standard errors and std within 2% (≥ 10 s.e.).
    private func expectNormal(_ t: Tensor, mean: Double, std: Double, _ what: String,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        let s = Stats(t)
        #expect(Swift.abs(s.mean - mean) <= 5 * std / Double(s.count).squareRoot(), "\(what): mean \(s.mean)",
                sourceLocation: sourceLocation)
        #expect(Swift.abs(s.std / std - 1) <= 0.02, "\(what): std \(s.std) vs \(std)",
                sourceLocation: sourceLocation)
    }

    @Test func torchDefaultIsUniformWithinOneOverSqrtFanIn() {
        var gen = RandomGenerator(seed: 1)
        let w = Initializer.torchDefault.make(Self.shape, using: &gen)
        #expect(w.shape == Self.shape)
        // gain √(2 / (1 + 5)) · √(3 / 784) = 1/√784 = 1/28.
        expectUniform(w, bound: 1.0 / 28, "torchDefault")
    }

    @Test func kaimingAndXavierUseTheirFans() {
        var gen = RandomGenerator(seed: 2)
        // fanIn = 784, fanOut = 200.
        expectUniform(Initializer.kaimingUniform(a: 0).make(Self.shape, using: &gen),
                      bound: (6.0 / 784).squareRoot(), "kaimingUniform(a: 0)")
        expectNormal(Initializer.kaimingNormal(a: 0).make(Self.shape, using: &gen),
                     mean: 0, std: (2.0 / 784).squareRoot(), "kaimingNormal(a: 0)")
        expectNormal(Initializer.kaimingNormal(a: 1).make(Self.shape, using: &gen),
                     mean: 0, std: (1.0 / 784).squareRoot(), "kaimingNormal(a: 1)")
        expectUniform(Initializer.xavierUniform(gain: 1).make(Self.shape, using: &gen),
                      bound: (6.0 / 984).squareRoot(), "xavierUniform")
        expectUniform(Initializer.xavierUniform(gain: 2).make(Self.shape, using: &gen),
                      bound: 2 * (6.0 / 984).squareRoot(), "xavierUniform(gain: 2)")
        expectNormal(Initializer.xavierNormal(gain: 1).make(Self.shape, using: &gen),
                     mean: 0, std: (2.0 / 984).squareRoot(), "xavierNormal")
    }

    @Test func convolutionShapedWeightsCountTheReceptiveField() {
        // [out 64, in 32, 5, 5]: fanIn = 32·25 = 800, fanOut = 64·25 = 1600; 51,200 draws, so the
        // same tolerances hold with room to spare except the variance: √(0.8/51200) = 0.4%, 2% is 5 s.e.
        var gen = RandomGenerator(seed: 3)
        let shape: Shape = [64, 32, 5, 5]
        let w = Initializer.xavierUniform(gain: 1).make(shape, using: &gen)
        let b = (6.0 / 2400).squareRoot()
        let s = Stats(w)
        #expect(Double(s.bound) <= b * (1 + 1e-6) && Double(s.bound) >= 0.99 * b, "bound \(s.bound) vs \(b)")
        #expect(Swift.abs(s.variance / (b * b / 3) - 1) <= 0.02)
        let k = Initializer.kaimingUniform(a: 0).make(shape, using: &gen)
        let kb = (6.0 / 800).squareRoot()
        #expect(Double(Stats(k).bound) <= kb * (1 + 1e-6) && Double(Stats(k).bound) >= 0.99 * kb)
    }

    @Test func plainUniformNormalAndConstants() {
        var gen = RandomGenerator(seed: 4)
        let u = Initializer.uniform(low: -0.5, high: 2).make(Self.shape, using: &gen)
        let su = Stats(u)
        #expect(su.minimum >= -0.5 && su.maximum < 2)
        // Mean 0.75, standard error 2.5/√(12N) = 1.8e-3: 5 s.e. is 9e-3.
        #expect(Swift.abs(su.mean - 0.75) <= 9e-3, "mean \(su.mean)")
        expectNormal(Initializer.normal(mean: 3, std: 0.5).make(Self.shape, using: &gen),
                     mean: 3, std: 0.5, "normal(3, 0.5)")
        // Constants are exact.
        #expect(Initializer.zeros.make([3, 4], using: &gen).scalars == Array(repeating: 0, count: 12))
        #expect(Initializer.ones.make([3, 4], using: &gen).scalars == Array(repeating: 1, count: 12))
        #expect(Initializer.constant(-2.5).make([2, 2, 2], using: &gen).scalars == Array(repeating: -2.5, count: 8))
        #expect(Initializer.constant(-2.5).make([2, 2, 2], using: &gen).shape == [2, 2, 2])
    }

    @Test func linearBiasIsUniformWithinOneOverSqrtInFeatures() {
        var gen = RandomGenerator(seed: 5)
        let layer = Linear(784, 2000, using: &gen)
        let b = Stats(layer.bias!.value)
        // 2000 draws: the largest is within 0.5% of the bound except with chance e^-10.
        #expect(Double(b.bound) <= (1.0 / 28) * (1 + 1e-6) && Double(b.bound) >= 0.99 / 28, "bias bound \(b.bound)")
        expectUniform(layer.weight.value, bound: 1.0 / 28, "Linear weight")
        #expect(Linear(3, 2, bias: false, using: &gen).bias == nil)
        #expect(Linear(3, 2, bias: false, using: &gen).namedParameters.map(\.name) == ["weight"])
    }

    @Test func seededInitialisationIsDeterministic() {
        var a = RandomGenerator(seed: 99), b = RandomGenerator(seed: 99), c = RandomGenerator(seed: 100)
        let ma = MLP([5, 7, 3], using: &a), mb = MLP([5, 7, 3], using: &b), mc = MLP([5, 7, 3], using: &c)
        #expect(ma.parameterValues.map(\.scalars) == mb.parameterValues.map(\.scalars))
        #expect(ma.parameterValues.map(\.scalars) != mc.parameterValues.map(\.scalars))
        // The generators advanced identically.
        #expect(a == b)
    }

    // MARK: Layers

    @Test func mlpWithSigmoidOutputStaysInTheOpenUnitInterval() throws {
        var gen = RandomGenerator(seed: 6)
        let mlp = MLP([4, 16, 3], output: .sigmoid, using: &gen)
        // Linear, ReLU, Linear, Sigmoid.
        #expect(mlp.body.layers.count == 4)
        #expect((mlp.body.layers.last as? Activation)?.kind == .sigmoid)
        let x = Tensor.randomNormal([64, 4], std: 2, using: &gen)
        let y = try mlp(x)
        #expect(y.shape == [64, 3])
        #expect(y.scalars.allSatisfy { $0 > 0 && $0 < 1 }, "\(y)")
        // Not constant: the output depends on the input.
        #expect(Set(y.scalars).count > 100)
        // Without an output activation the last layer is linear, so values leave (0, 1).
        let plain = MLP([4, 16, 3], using: &gen)
        #expect(plain.body.layers.count == 3)
        #expect(try plain(x * 10).scalars.contains { $0 < 0 || $0 > 1 })
    }

    @Test func dropoutIsTheIdentityInEvalMode() throws {
        let d = Dropout(0.5, seed: 7)
        d.eval()
        var gen = RandomGenerator(seed: 8)
        let x = Tensor.randomNormal([10, 10], using: &gen)
        #expect(try d(x).scalars == x.scalars)
        // p = 0 is the identity in training mode too.
        let none = Dropout(0, seed: 7)
        #expect(try none(x).scalars == x.scalars)
    }

    @Test func dropoutZeroesAboutPAndPreservesTheMean() throws {
        let p: Float = 0.3
        let d = Dropout(p, seed: 9)
        #expect(d.isTraining)
        let count = 100_000
        let y = try d(Tensor.ones([count])).scalars
        let zeros = y.filter { $0 == 0 }.count
        // The zero fraction is Binomial(N, p)/N with standard error √(p(1-p)/N) = 1.45e-3; 1e-2 is
        // about 7 s.e.
        #expect(Swift.abs(Float(zeros) / Float(count) - p) <= 1e-2, "zero fraction \(Float(zeros) / Float(count))")
        // Survivors are scaled by exactly 1/(1-p) (one Float32 multiply of 1): ulp tolerance.
        let scale = 1 / (1 - p)
        #expect(y.allSatisfy { $0 == 0 || Swift.abs($0 - scale) <= scale.ulp }, "survivor values")
        // So the mean stays 1: its standard error is 1.45e-3/(1-p) = 2.1e-3; 1.5e-2 is about 7 s.e.
        let mean = y.reduce(0.0) { $0 + Double($1) } / Double(count)
        #expect(Swift.abs(mean - 1) <= 1.5e-2, "mean \(mean)")
    }

    @Test func dropoutMaskIsDeterminedByTheSeed() throws {
        let a = Dropout(0.5, seed: 11), b = Dropout(0.5, seed: 11), c = Dropout(0.5, seed: 12)
        let x = Tensor.ones([1000])
        let ya = try a(x).scalars
        #expect(ya == (try b(x).scalars))
        #expect(ya != (try c(x).scalars))
        // The generator advances: the next call draws a new mask.
        #expect(ya != (try a(x).scalars))
        // The mask multiplies the input: a gradient flows through the survivors only.
        let leaf = Tensor.ones([1000]).requiringGrad()
        let fresh = Dropout(0.5, seed: 11)
        let g = try grad(of: fresh(leaf).sum(), wrt: leaf).scalars
        #expect(g == ya)  // same seed, same mask: d(x·m·2)/dx = m·2 = ya
    }

    @Test func flattenKeepsTheBatchAxis() throws {
        let x = try Tensor.arange(0, 24).reshaped(to: [2, 3, 4])
        let y = try Flatten()(x)
        #expect(y.shape == [2, 12])
        #expect(y.scalars == x.scalars)
        #expect(try Flatten()(Tensor([1, 2, 3])).shape == [3, 1])
        #expect(try Flatten()(Tensor.zeros([5, 2])).shape == [5, 2])
        let error = #expect(throws: TensorError.self) { _ = try Flatten()(Tensor(3)) }
        #expect(error?.description.contains("Flatten") == true)
        // Gradients flow back in the input's shape.
        let leaf = x.requiringGrad()
        #expect(try grad(of: Flatten()(leaf).sum(), wrt: leaf).shape == [2, 3, 4])
    }

    @Test func parameterTensorReturnsItsValueAndHasOneParameterNamedValue() throws {
        let pt = ParameterTensor(Tensor([0.5, -1, 2]))
        #expect(pt.namedParameters.map(\.name) == ["value"])
        #expect(pt.parameters.count == 1)
        #expect(pt.parameterCount == 3)
        // The input is ignored.
        #expect(try pt(Tensor.zeros([7, 7])).scalars == [0.5, -1, 2])
        #expect(pt.value.scalars == [0.5, -1, 2])
        #expect(pt.value.requiresGrad && pt.value.isLeaf)
        // It is a leaf of the graph: d Σ 3v / dv = 3.
        let g = try grad(of: (3 * pt(Tensor(0))).sum(), wrt: pt.parameter.value)
        #expect(g.scalars == [3, 3, 3])
        var gen = RandomGenerator(seed: 13)
        let viaInit = ParameterTensor([2, 2], initializer: .constant(0.25), using: &gen)
        #expect(viaInit.value.shape == [2, 2] && viaInit.value.scalars == [0.25, 0.25, 0.25, 0.25])
    }

    @Test func trainAndEvalPropagateToEveryDescendant() throws {
        var gen = RandomGenerator(seed: 14)
        let inner = Sequential([Linear(4, 4, using: &gen), Dropout(0.5, seed: 1)])
        let model = Sequential([Linear(4, 4, using: &gen), Activation(.relu), Dropout(0.5, seed: 2), inner])
        func all(_ m: any Module) -> [any Module] { [m] + m.children.flatMap { all($0.module) } }
        #expect(all(model).count == 7)
        #expect(all(model).allSatisfy { $0.isTraining })

        model.eval()
        #expect(all(model).allSatisfy { !$0.isTraining })
        // Both dropouts are now the identity.
        let x = Tensor.ones([3, 4])
        let first = try model(x).scalars
        #expect(try model(x).scalars == first)

        model.train()
        #expect(all(model).allSatisfy { $0.isTraining })
        // Training mode draws fresh masks, so two calls differ.
        #expect(try model(x).scalars != (try model(x).scalars))

        // Through an MLP, whose children are its layers.
        let mlp = MLP([3, 5, 2], using: &gen)
        mlp.eval()
        #expect(!mlp.isTraining && mlp.body.layers.allSatisfy { !$0.isTraining })
        mlp.train()
        #expect(mlp.isTraining && mlp.body.layers.allSatisfy { $0.isTraining })
    }

    @Test func withParametersRejectsTheWrongCountOrShapeAndChangesNothing() throws {
        var gen = RandomGenerator(seed: 15)
        let mlp = MLP([3, 4, 2], using: &gen)
        let saved = mlp.parameterValues.map(\.scalars)
        let x = Tensor.randomNormal([2, 3], using: &gen)
        let output = try mlp(x).scalars
        func expectUnchanged(sourceLocation: SourceLocation = #_sourceLocation) throws {
            #expect(mlp.parameterValues.map(\.scalars) == saved, sourceLocation: sourceLocation)
            #expect(mlp.parameters.allSatisfy { $0.value.requiresGrad && $0.value.isLeaf }, sourceLocation: sourceLocation)
            #expect(try mlp(x).scalars == output, sourceLocation: sourceLocation)
        }

        // Wrong count: the body must not run.
        var ran = false
        let countError = #expect(throws: TensorError.self) {
            try mlp.withParameters(Array(mlp.parameterValues.dropLast())) { () throws(TensorError) in ran = true }
        }
        #expect(!ran)
        #expect(countError?.description.contains("3 parameter tensors given but the module has 4") == true,
                "\(String(describing: countError))")
        try expectUnchanged()

        // Wrong shape of the third tensor ("2.weight", [2, 4]); the first two are fine.
        var values = mlp.parameterValues.map { $0 * 2 }
        values[2] = Tensor.zeros([4, 2])
        let shapeError = #expect(throws: TensorError.self) {
            try mlp.withParameters(values) { () throws(TensorError) in ran = true }
        }
        #expect(!ran)
        #expect(shapeError?.description.contains("2.weight") == true, "\(String(describing: shapeError))")
        if case let .shapeMismatch(_, shapes, _) = shapeError { #expect(shapes == [[2, 4], [4, 2]]) }
        try expectUnchanged()

        // An error thrown by the body still restores the parameters.
        #expect(throws: TensorError.self) {
            try mlp.withParameters(mlp.parameterValues.map { $0 * 0 }) { () throws(TensorError) in
                #expect(mlp.parameterValues.allSatisfy { $0.scalars.allSatisfy { $0 == 0 } })
                _ = try mlp(Tensor.zeros([2, 5]))  // wrong feature count
            }
        }
        try expectUnchanged()
    }

    // MARK: Training

    /// Trains an MLP [64, 32, 10] with SGD(momentum 0.9) for 100 full-batch steps on inputs
    /// N(0, 1) labelled by a fixed random linear teacher (argmax of 10 random projections), and
    /// returns the cross-entropy loss before each step and after the last.
    private static func train(seed: UInt64) throws -> [Float] {
        var gen = RandomGenerator(seed: seed)
        let x = Tensor.randomNormal([256, 64], using: &gen)
        let teacher = Tensor.randomNormal([10, 64], using: &gen)
        let labels = try x.matmul(teacher, transposeB: true).argmax(axis: 1)
        let model = MLP([64, 32, 10], using: &gen)
        let opt = SGD(model.parameters, learningRate: 0.05, momentum: 0.9)
        var losses: [Float] = []
        for _ in 0..<100 {
            opt.zeroGrad()
            let loss = try crossEntropy(model(x), labels)
            losses.append(loss.scalar)
            try loss.backward()
            try opt.step()
        }
        losses.append(try withoutGrad { try crossEntropy(model(x), labels).scalar })
        return losses
    }

    @Test func trainingAnMLPHalvesTheLossDeterministically() throws {
        let losses = try Self.train(seed: 2024)
        let first = losses.first!, last = losses.last!
        // Ten roughly balanced classes and a small initialisation: the initial loss is near ln 10.
        #expect(first > 2 && first < 2.6, "initial loss \(first)")
        #expect(losses.allSatisfy { $0.isFinite })
        #expect(last <= first / 2, "loss went from \(first) to \(last) in 100 steps")
        // Seeded: a second run repeats every loss bit for bit.
        #expect(try Self.train(seed: 2024) == losses)
    }
}

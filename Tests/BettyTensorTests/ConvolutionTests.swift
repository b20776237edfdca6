import Testing
import BettyTensor
import _TestSupport

@Suite struct ConvolutionTests {
    @Test(arguments: [((1, 1), (0, 0)), ((2, 2), (1, 1)), ((1, 2), (2, 0))])
    func conv2dMatchesTheDefinition(stride: (Int, Int), padding: (Int, Int)) throws {
        var gen = RandomGenerator(seed: 1)
        let x = Tensor.randomNormal([2, 3, 7, 6], using: &gen), w = Tensor.randomNormal([4, 3, 3, 2], using: &gen)
        let y = try conv2d(x, weight: w, stride: stride, padding: padding)
        let reference = Reference.conv2d(x, w, stride: stride, padding: padding)
        #expect(y.count == reference.count)
        for (a, b) in zip(y.scalars, reference) {
            // 18-term dot products of N(0,1) values in Float32: 1e-4 absolute is ~100 ulp of the terms.
            #expect(Swift.abs(Double(a) - b) < 1e-4)
        }
    }

    @Test func conv2dGradientsFirstAndSecondOrder() throws {
        var gen = RandomGenerator(seed: 2)
        let x = Tensor.randomNormal([2, 2, 5, 5], using: &gen)
        let w = Tensor.randomNormal([3, 2, 3, 3], std: 0.5, using: &gen), b = Tensor.randomNormal([3], using: &gen)
        let first = try GradientCheck.check(at: [x, w, b]) { t in
            try conv2d(t[0], weight: t[1], bias: t[2], stride: (2, 1), padding: (1, 1))
        }
        #expect(first.passed, "\(first)")
        let second = try GradientCheck.checkSecondOrder(at: [x, w]) { t in
            tanh(try conv2d(t[0], weight: t[1], padding: (1, 0)))
        }
        #expect(second.passed, "\(second)")
    }

    @Test func poolingValuesAndGradients() throws {
        let x = try Tensor(shape: [1, 1, 4, 4], scalars: (0..<16).map(Float.init))
        #expect(try maxPool2d(x, kernel: (2, 2)).scalars == [5, 7, 13, 15])
        #expect(try avgPool2d(x, kernel: (2, 2)).scalars == [2.5, 4.5, 10.5, 12.5])
        // Padding counts as zeros (PyTorch's count_include_pad): the corner window holds only x[0] = 0.
        #expect(try avgPool2d(x, kernel: (2, 2), stride: (2, 2), padding: (1, 1)).scalars.first == 0)
        var gen = RandomGenerator(seed: 3)
        // Distinct values 0.1 apart, shuffled: no ties, so max pooling is differentiable at the point.
        let values = (0..<50).map { Float($0) * 0.1 }.shuffled(using: &gen)
        let y = try Tensor(shape: [1, 2, 5, 5], scalars: values)
        let maxReport = try GradientCheck.check(at: [y]) { t in try maxPool2d(t[0], kernel: (2, 2), stride: (1, 2)) }
        #expect(maxReport.passed, "\(maxReport)")
        let avgReport = try GradientCheck.checkSecondOrder(at: [y]) { t in
            let p = try avgPool2d(t[0], kernel: (3, 3), stride: (2, 2), padding: (1, 1))
            return try p * p
        }
        #expect(avgReport.passed, "\(avgReport)")
    }

    @Test func badGeometryIsAnError() {
        let x = Tensor.zeros([1, 1, 3, 3])
        #expect { try maxPool2d(x, kernel: (4, 4)) } throws: { "\($0)".contains("does not fit") }
        #expect { try conv2d(x, weight: .zeros([2, 3, 1, 1])) } throws: { "\($0)".contains("[1, 1, 3, 3]") }
        #expect { try conv2d(Tensor.zeros([3, 3]), weight: .zeros([2, 3, 1, 1])) } throws: { _ in true }
    }
}

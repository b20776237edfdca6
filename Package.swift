// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Betty",
    products: [
        .library(name: "BettyTensor", targets: ["BettyTensor"]),
        .library(name: "BettyNN", targets: ["BettyNN"]),
        .library(name: "Betty", targets: ["Betty"]),
        .executable(name: "BettyBench", targets: ["BettyBench"]),
    ],
    targets: [
        // OpenBLAS through a system-library target; only BettyTensor/BLAS imports it.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .target(name: "BettyTensor", dependencies: ["CBLAS"]),
        .target(name: "BettyNN", dependencies: ["BettyTensor"],
                resources: [.copy("Resources")]),
        .target(name: "Betty", dependencies: ["BettyNN", "BettyTensor"]),
        .target(name: "_TestSupport", dependencies: ["BettyTensor"]),
        // Depends on CBLAS directly only to time the raw OpenBLAS call our matmul is measured against.
        .executableTarget(name: "BettyBench", dependencies: ["Betty", "BettyTensor", "BettyNN", "CBLAS"]),
        .testTarget(name: "BettyTensorTests", dependencies: ["BettyTensor", "_TestSupport"]),
        .testTarget(name: "BettyNNTests", dependencies: ["BettyNN", "BettyTensor", "_TestSupport"]),
        .testTarget(name: "BettyTests", dependencies: ["Betty", "BettyNN", "BettyTensor", "_TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)

// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Betty",
    products: [
        .library(name: "BettyTensor", targets: ["BettyTensor"]),
        .library(name: "BettyNN", targets: ["BettyNN"]),
        .library(name: "Betty", targets: ["Betty"]),
        .library(name: "BettyScript", targets: ["BettyScript"]),
        .library(name: "BettyDashboard", targets: ["BettyDashboard"]),
        .library(name: "BettyTerminal", targets: ["BettyTerminal"]),
        .executable(name: "betty-repl", targets: ["betty-repl"]),
        .executable(name: "BettyBench", targets: ["BettyBench"]),
        .executable(name: "betty-fuzz", targets: ["betty-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // OpenBLAS through a system-library target; only BettyTensor/BLAS imports it.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        // glibc's mallopt, which the Glibc module does not import; only TensorStorage uses it.
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        .target(name: "BettyTensor", dependencies: ["CBLAS", "CMalloc"]),
        // The system zlib, for .npz archives; only BettyNN/Data/Zlib (and the tests' archive writer) import it.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(name: "BettyNN", dependencies: ["BettyTensor", "CZlib"],
                resources: [.copy("Resources")]),
        .target(name: "Betty", dependencies: ["BettyNN", "BettyTensor"]),
        // The dashboard's model and layout: a fold of monitor events into a cell grid, no terminal code.
        .target(name: "BettyDashboard", dependencies: ["Betty"]),
        // Wide ncurses without pkgConfig (see the shim); only BettyTerminal/CursesTerminal imports it.
        .systemLibrary(name: "CNcurses", path: "Sources/CNcurses"),
        // The dashboard on a real terminal: the curses driver and the redraw loop, for the REPL and benchmarks.
        .target(name: "BettyTerminal", dependencies: ["BettyDashboard", "CNcurses"]),
        // A dashboard over a synthetic event stream, for the terminal tests (never shipped as a tool).
        .executableTarget(name: "betty-dashboard-demo", dependencies: ["BettyTerminal", "BettyDashboard", "Betty"]),
        // The session language: parsed once into closures over the Betty API.
        .target(name: "BettyScript", dependencies: ["Betty", "BettyNN", "BettyTensor", "BettyDashboard"]),
        // GNU readline for the interactive prompt; only betty-repl imports it.
        .systemLibrary(name: "CReadline", path: "Sources/CReadline"),
        .executableTarget(name: "betty-repl", dependencies: [
            "BettyScript", "BettyNN", "BettyTensor", "BettyDashboard", "BettyTerminal", "CReadline", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Seeded fuzzers that drive the built betty-repl as a child process (never part of swift test).
        // zlib only to build its deflated .npz seed file; it links none of the package's libraries.
        // Builds its seed files (.npz archives) with the archives the reader tests use.
        .executableTarget(name: "betty-fuzz", dependencies: [
            "_TestSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Finite-difference gradient checks, and the archives (.npz, stored and deflated) the reader tests write.
        .target(name: "_TestSupport", dependencies: ["BettyTensor", "CZlib"]),
        // Depends on CBLAS directly only to time the raw OpenBLAS call our matmul is measured against.
        .executableTarget(name: "BettyBench", dependencies: ["Betty", "BettyScript", "BettyTensor", "BettyNN", "BettyDashboard", "BettyTerminal", "CBLAS"]),
        .testTarget(name: "BettyTensorTests", dependencies: ["BettyTensor", "_TestSupport"]),
        .testTarget(name: "BettyNNTests", dependencies: ["BettyNN", "BettyTensor", "_TestSupport"]),
        .testTarget(name: "BettyTests", dependencies: ["Betty", "BettyNN", "BettyTensor", "_TestSupport"]),
        .testTarget(name: "BettyDashboardTests", dependencies: ["BettyDashboard", "Betty"],
                    exclude: ["Golden"]),
        // The loop against a fake terminal, and the demo and betty-repl driven in tmux; the dependencies build both first.
        .testTarget(name: "BettyTerminalTests", dependencies: ["BettyTerminal", "BettyDashboard", "betty-dashboard-demo", "betty-repl"]),
        .testTarget(name: "BettyScriptTests", dependencies: ["BettyScript", "Betty", "BettyNN", "BettyTensor", "_TestSupport"],
                    exclude: ["Golden"]),
        // Drives the built betty-repl in a pseudo-terminal; the dependency makes SwiftPM build it first.
        .testTarget(name: "BettyREPLTests", dependencies: ["betty-repl"]),
    ],
    swiftLanguageModes: [.v6]
)

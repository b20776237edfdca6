import Foundation

/// An executable SwiftPM built with these tests (the test target depends on it, so it sits in the products
/// directory next to the test runner): `betty-dashboard-demo` or `betty-repl`.
func builtExecutable(_ name: String) throws -> String {
    var starts: [URL] = []
    if let runner = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        starts.append(URL(fileURLWithPath: runner).deletingLastPathComponent())
    }
    if let runner = Bundle.main.executableURL { starts.append(runner.deletingLastPathComponent()) }
    starts.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
    for start in starts {
        var directory = start
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
    }
    throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: name])
}

func demoExecutable() throws -> String { try builtExecutable("betty-dashboard-demo") }

#if os(Linux)
import Foundation
import Glibc
import Testing

/// `kill -9` at random points of a large `save`: the checkpoint at the path is always a whole one,
/// the previous or the new, byte for byte, and the previous still loads. A crash cannot run cleanup,
/// so this is what write-by-rename is for.
@Suite struct KilledSaveTests {
    @Test func aSaveKilledAtAnyPointLeavesAWholeCheckpoint() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/run.safetensors"
        // 4 million parameters (and their momentum after a step): a checkpoint of 16 to 32 MB, long enough to be
        // killed in the middle of.
        func script(steps: Int) -> String {
            """
            seed 1
            data all = logistic samples=20 features=4
            problem p
              module    params 4000000 init=ones
              optimizer sgd lr=0.01 momentum=0.9
              data      all batch=20 shuffle=false
              loss      sum(params * params)
            end
            \(steps > 0 ? "run \(steps)" : "")
            save "\(path)"
            print 6 * 7
            """
        }
        var killedInSave = 0
        /// Runs a session; with `killAt`, kills it with SIGKILL once the save's temporary file beside the
        /// checkpoint holds that many bytes (or lets it finish if the save ends first).
        func runREPL(_ text: String, killAt bytes: Int? = nil) throws -> Int32 {
            let file = directory.path + "/s.betty"
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try InteractiveREPLTests.bettyREPL())
            process.arguments = ["--headless", file]
            var environment = ProcessInfo.processInfo.environment
            environment["SWIFT_BACKTRACE"] = "enable=no"
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            if let bytes {
                while process.isRunning {
                    let temporaries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?
                        .filter { !["run.safetensors", "s.betty"].contains($0) } ?? []
                    let written = temporaries.compactMap { try? FileManager.default.attributesOfItem(atPath: directory.path + "/" + $0)[.size] as? Int }.max() ?? -1
                    if written >= bytes {
                        kill(process.processIdentifier, SIGKILL)
                        killedInSave += 1
                        break
                    }
                    usleep(200)
                }
            }
            process.waitUntilExit()
            return process.terminationStatus
        }
        // The two whole checkpoints a save here can leave: after no step, and after one.
        #expect(try runREPL(script(steps: 0)) == 0)
        let previous = try #require(FileManager.default.contents(atPath: path))
        #expect(try runREPL(script(steps: 1)) == 0)
        let next = try #require(FileManager.default.contents(atPath: path))
        #expect(previous != next && previous.count > 15_000_000)
        var generator = SystemRandomNumberGenerator()
        var previousSeen = 0, nextSeen = 0
        for _ in 0..<12 {
            try previous.write(to: URL(fileURLWithPath: path))
            _ = try runREPL(script(steps: 1), killAt: Int.random(in: 0..<next.count, using: &generator))
            let left = FileManager.default.contents(atPath: path)
            #expect(left == previous || left == next, "a killed save left \(left?.count ?? -1) bytes that are neither checkpoint")
            if left == previous { previousSeen += 1 } else if left == next { nextSeen += 1 }
            // No half-written temporary file is mistaken for the checkpoint; leftovers are only temporaries.
            let others = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { !["run.safetensors", "s.betty"].contains($0) }
            for other in others { try? FileManager.default.removeItem(atPath: directory.path + "/" + other) }
        }
        // The previous checkpoint still loads, exactly: a session that loads it and saves again writes the same bytes.
        try previous.write(to: URL(fileURLWithPath: path))
        let copy = directory.path + "/copy.safetensors"
        #expect(try runREPL(script(steps: 0).replacingOccurrences(of: "save \"\(path)\"", with: "load \"\(path)\"\nsave \"\(copy)\"")) == 0)
        #expect(FileManager.default.contents(atPath: copy) == previous)
        #expect(killedInSave > 0, "no kill landed inside a save")
        print("KilledSaveTests: \(killedInSave) of 12 saves killed part-way: \(previousSeen) left the previous checkpoint, \(nextSeen) the new one")
    }
}
#endif

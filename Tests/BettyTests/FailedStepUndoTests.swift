import Testing
import BettyNN
import BettyTensor
import Betty

/// `Engine.undoFailedSteps`: a run that fails part-way is put back to the end of the last global step
/// it completed, bit for bit, by going back to the restore point and taking the steps since again;
/// those steps are reported to the replay receiver alone, and the run then continues as one that never
/// failed.
@Suite struct FailedStepUndoTests {
    @Test func aFailureInTheUpperLevelAfterTheLowerSteppedIsUndoneByReplay() throws {
        let reference = try CancellationTests.Program(method: .darts)
        try reference.engine.run(iterations: 6)
        let atSix = CancellationTests.fingerprint(reference.engine)
        try reference.engine.run(iterations: 6)

        let program = try CancellationTests.Program(method: .darts)
        // The restore point stays at the run's start however slow the machine: six steps to replay.
        program.engine.cancellationTiming = CancellationTiming(restorePointAge: .seconds(3600))
        var replayed: [String] = []
        program.engine.undoFailedSteps { event in
            if case let .step(e) = event { replayed.append("\(e.globalStep) \(e.problem)") }
        }
        // The upper level's seventh loss is evaluated in global step 7, after the lower level stepped:
        // its darts step then overflows, once (a replayed step evaluates the loss again, and is fine).
        let inner = program.engine.problem(named: "inner")!
        program.onOuterLoss = { count in inner.config.dartsAlpha = count == 7 ? 1e30 : 0.01 }
        #expect { try program.engine.run(iterations: 12) } throws: { error in
            guard case .nonFiniteGradient = error as? EngineError else { return false }
            return true
        }
        #expect(program.engine.lastFailure == StepFailure(globalStep: 7, stateAfterStep: 6))
        #expect(CancellationTests.fingerprint(program.engine) == atSix)
        // Six steps were taken again, heard by the replay receiver alone; the observers heard inner's
        // step 7 once.
        #expect(replayed == (1...6).flatMap { ["\($0) inner", "\($0) outer"] })
        #expect(program.events.filter { $0.globalStep == 7 }.map(\.problem) == ["inner"])

        program.forgetEvents(after: 6)
        try program.engine.run(iterations: 6)
        #expect(program.engine.lastFailure == nil)
        #expect(CancellationTests.fingerprint(program.engine) == CancellationTests.fingerprint(reference.engine))
        #expect(CancellationTests.eventRecord(program.events) == CancellationTests.eventRecord(reference.events))
    }

    @Test func withoutItAFailedStepStaysAsItFailed() throws {
        let program = try CancellationTests.Program(method: .darts)
        let inner = program.engine.problem(named: "inner")!
        program.onOuterLoss = { count in inner.config.dartsAlpha = count == 3 ? 1e30 : 0.01 }
        #expect(throws: EngineError.self) { try program.engine.run(iterations: 5) }
        #expect(program.engine.lastFailure == StepFailure(globalStep: 3, stateAfterStep: nil))
        #expect(program.engine.globalStep == 3 && inner.localStep == 3)
    }
}

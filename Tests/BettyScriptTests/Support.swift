import Betty
import BettyScript
import Foundation

/// Collects what a session reports, as the plain REPL would print it.
final class Transcript: SessionOutput {
    var errors: [ScriptError] = []
    var expectations: [(String, Bool)] = []
    var events: [EngineEvent] = []
    private let plain: PlainOutput
    private let box = Box()

    final class Box { var lines: [String] = [] }

    init(echo: Bool = false) {
        let box = self.box
        plain = PlainOutput(echo: echo) { box.lines.append($0) }
    }

    var text: String { box.lines.joined(separator: "\n") }

    func text(_ text: String) { plain.text(text) }
    func error(_ error: ScriptError) { errors.append(error); plain.error(error) }
    /// Called with every engine event (a test can act mid-run, e.g. interrupt).
    var onEvent: ((EngineEvent) -> Void)?
    func event(_ event: EngineEvent, isProgress: Bool) {
        events.append(event)
        plain.event(event, isProgress: isProgress)
        onEvent?(event)
    }
    func expectation(_ description: String, passed: Bool, location: SourceLocation) {
        expectations.append((description, passed))
        plain.expectation(description, passed: passed, location: location)
    }
    func echo(_ line: String, location: SourceLocation) { plain.echo(line, location: location) }
    func comment(_ line: String, location: SourceLocation) { plain.comment(line, location: location) }
}

/// A session fed `text` line by line; `stopAtError` mimics a headless replay.
@discardableResult
func replay(_ text: String, file: String = "test.betty", stopAtError: Bool = false, echo: Bool = false) -> (Session, Transcript) {
    let transcript = Transcript(echo: echo)
    let session = Session(output: transcript)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if stopAtError {
        session.replay(lines, file: file)
    } else {
        // Interactive use: every line runs, whatever the ones before it did.
        for (i, line) in lines.enumerated() { session.execute(line, file: file, line: i + 1) }
    }
    return (session, transcript)
}

/// The repository's root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A small two-level program on the logistic generator, used by several tests.
let tinyProgram = """
    seed 3
    data all = logistic samples=120 features=4
    split all -> train 60, valid 60
    problem inner
      module    params 4 init=zeros
      optimizer sgd lr=0.1
      data      train batch=60 shuffle=false
      loss      bce_logits(x @ params, y) + 0.5 * sum(outer.params * params^2)
      config    type=darts unroll=5
      reset_on_start
    end
    problem outer
      module    params 4 init=ones
      optimizer sgd lr=1 momentum=0.9
      data      valid batch=60 shuffle=false
      loss      bce_logits(x @ inner.params, y)
      clamp     min=1e-8
    end
    connect outer -> inner
    """

import BettyScript
import Glibc
import Synchronization

/// Ctrl-C asks the running command to stop, and every engine command does so within a step. A command
/// that cannot stop part-way (generating or reading a large data set, evaluating a huge expression)
/// would otherwise hold the terminal hostage: a further Ctrl-C, once the first has waited two seconds
/// unhonoured, leaves the program, saying what is lost. A quick double tap only asks once.
enum EmergencyExit {
    static let patienceNanoseconds: Int64 = 2_000_000_000
    /// When the pending request was made (CLOCK_MONOTONIC nanoseconds), 0 for none.
    private static let firstRequest = Atomic<Int64>(0)
    /// The statement that request was made during: a request left over from an earlier statement, or
    /// one the session made itself (`stop` cancels the run), does not count as the first of two.
    private static let firstStatement = Atomic<Int>(-1)

    /// Runs in the signal handler: atomics, clock_gettime, write and _exit only.
    static func interrupt(_ session: Session) {
        let now = monotonicNanoseconds()
        let statement = session.statementNumber
        guard session.interruptPending, firstRequest.load(ordering: .relaxed) != 0,
              firstStatement.load(ordering: .relaxed) == statement else {
            firstRequest.store(now, ordering: .relaxed)
            firstStatement.store(statement, ordering: .relaxed)
            session.interrupt()
            return
        }
        guard now - firstRequest.load(ordering: .relaxed) >= patienceNanoseconds else { return }
        let message = "\ninterrupted again: the running command cannot stop part-way, so betty-repl is leaving (status 130); what was not saved is lost\n"
        _ = message.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        _exit(130)
    }

    private static func monotonicNanoseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}

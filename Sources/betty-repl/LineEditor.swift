@preconcurrency import CReadline
import Glibc

/// GNU readline with history file, tab completion and Ctrl-C handling.
///
/// Readline is process-global state, so create at most one editor, use it from one thread at a time, and only
/// when stdin is a terminal. It runs readline's callback interface under our own poll() loop: that is the
/// only way to cancel a line on Ctrl-C without readline's own signal handlers, which would fight with
/// `InterruptHandler` and cannot unwind out of a blocking `readline()` call from Swift.
final class LineEditor {
    private static let historyLimit: Int32 = 1000

    private let historyPath: String?
    private var reportedHistoryError = false

    /// historyPath: file to load history from at start and append/save to (nil = no file). A missing file is
    /// fine; its directory must exist.
    /// completer: given the word being completed and the line up to the cursor, returns candidate completions
    /// (full words); candidates that do not start with the word are dropped.
    init(historyPath: String?, completer: @escaping (_ word: String, _ line: String) -> [String]) {
        self.historyPath = historyPath
        ReadlineState.completer = completer
        ReadlineState.configureOnce()
        SignalRouting.installPromptHandlers()
        using_history()
        stifle_history(Self.historyLimit)
        if let historyPath {
            // ENOENT on the first run is expected; anything else only costs the old history.
            _ = read_history(historyPath)
        }
    }

    /// What ended a `readLine`.
    enum Input: Equatable {
        case line(String)
        /// Ctrl-C: the half-typed line was discarded (`^C` and a newline echoed).
        case interrupted
        /// Ctrl-D on an empty line, or the terminal went away.
        case endOfInput
    }

    /// Shows `prompt` and returns the line typed, or why there is none.
    /// Non-printing sequences in `prompt` (colours) must be wrapped in "\u{1}" ... "\u{2}".
    ///
    /// `refresh`, when given, is asked about four times a second for the prompt to show now and the
    /// lines to print above it (a background run's progress): the line being typed is kept.
    func readLine(prompt: String, refresh: (() -> (prompt: String, lines: [String]))? = nil) -> Input {
        _ = SignalRouting.drainWakePipe()
        SignalRouting.promptActive.store(true, ordering: .releasing)
        defer { SignalRouting.promptActive.store(false, ordering: .releasing) }

        ReadlineState.finished = false
        ReadlineState.acceptedLine = nil
        rl_callback_handler_install(prompt, handleAcceptedLine)

        let wakeFD = SignalRouting.wakeReadFD.load(ordering: .acquiring)
        var shown = prompt
        while !ReadlineState.finished {
            if let refresh { shown = update(shown, with: refresh()) }
            var fds = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, nfds_t(fds.count), refresh == nil ? -1 : 250)
            if ready < 0 {
                if errno == EINTR { continue }
                endOfInput()
                return .endOfInput
            }
            if fds[1].revents != 0 {
                let wake = SignalRouting.drainWakePipe()
                if wake.interrupted {
                    cancelLine()
                    return .interrupted
                }
                if wake.resized { rl_resize_terminal() }
            }
            let input = fds[0].revents
            if input & Int16(POLLNVAL) != 0 {
                endOfInput()
                return .endOfInput
            }
            // POLLHUP/POLLERR included: the read inside readline then sees EOF and reports it as nil.
            if input & Int16(POLLIN | POLLHUP | POLLERR) != 0 { rl_callback_read_char() }
        }
        guard let line = ReadlineState.acceptedLine else {
            // On EOF readline ends the line itself only when it leaves bracketed-paste mode.
            let bracketedPaste = rl_variable_value("enable-bracketed-paste").map { String(cString: $0) }
            if bracketedPaste != "on" { writeToTerminal("\n") }
            return .endOfInput
        }
        return .line(line)
    }

    /// Prints `lines` above the prompt and shows the new prompt, keeping what is typed; returns the prompt shown.
    private func update(_ shown: String, with next: (prompt: String, lines: [String])) -> String {
        guard !next.lines.isEmpty || next.prompt != shown else { return shown }
        rl_clear_visible_line()
        if !next.lines.isEmpty { writeToTerminal(next.lines.map { $0 + "\n" }.joined()) }
        if next.prompt != shown { rl_set_prompt(next.prompt) }
        rl_forced_update_display()
        return next.prompt
    }

    /// Adds a non-empty line to history (consecutive duplicates skipped) and appends it to the history file
    /// at once, so a crash loses nothing. The file is capped at 1000 entries.
    func addHistory(_ line: String) {
        guard line.contains(where: { !$0.isWhitespace }) else { return }
        if let last = history_get(history_base + history_length - 1), let text = last.pointee.line,
           String(cString: text) == line {
            return
        }
        add_history(line)
        guard let historyPath else { return }
        // append_history does not create the file; write_history does, and on the first run the in-memory
        // history holds nothing the file lacks.
        var status = append_history(1, historyPath)
        if status == ENOENT { status = write_history(historyPath) }
        if status == 0 { status = history_truncate_file(historyPath, Self.historyLimit) }
        if status != 0 && !reportedHistoryError {
            reportedHistoryError = true
            let reason = String(cString: strerror(status))
            writeToStandardError("warning: cannot write history file \(historyPath): \(reason)\n")
        }
    }

    private func cancelLine() {
        // Put the cursor after the whole (possibly wrapped) line so "^C" does not overwrite part of it.
        rl_point = rl_end
        rl_redisplay()
        // Before the cleanup: resetting the terminal ends bracketed-paste mode with a "\r".
        writeToTerminal("^C")
        // The sequence Python's readline module uses after a signal in callback mode.
        rl_free_line_state()
        rl_callback_sigcleanup()
        rl_cleanup_after_signal()
        rl_callback_handler_remove()
        writeToTerminal("\n")
    }

    private func endOfInput() {
        rl_callback_handler_remove()
        writeToTerminal("\n")
    }

    private func writeToTerminal(_ text: String) {
        guard let stream = rl_outstream else { return }
        fputs(text, stream)
        fflush(stream)
    }

    private func writeToStandardError(_ text: String) {
        _ = text.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    }
}

/// Readline calls back into plain C function pointers, which cannot capture; they find the Swift side here.
/// Touched only from the thread running `LineEditor.readLine`.
private enum ReadlineState {
    nonisolated(unsafe) static var completer: (_ word: String, _ line: String) -> [String] = { _, _ in [] }
    nonisolated(unsafe) static var matches: [String] = []
    nonisolated(unsafe) static var nextMatch = 0
    nonisolated(unsafe) static var finished = false
    nonisolated(unsafe) static var acceptedLine: String?
    nonisolated(unsafe) static var configured = false

    /// Names like `inner.params` and `lr_decay` are one word, while `unroll=`, `f(x`, `a+b` start a new one.
    static let wordBreakCharacters = " \t\n\"'`@$#><=;|&{}()[],+-*/%^!~:?\\"
    /// File names in quotes may hold any of the above but the quote itself. Kept for readline: never freed.
    nonisolated(unsafe) static let quotedWordBreakCharacters = strdup("\"")!

    static func configureOnce() {
        guard !configured else { return }
        configured = true
        // Readline keeps these pointers, so they must outlive every call: strdup and never free.
        rl_readline_name = UnsafePointer(strdup("betty"))
        let breaks = UnsafePointer(strdup(wordBreakCharacters))
        rl_basic_word_break_characters = breaks
        rl_completer_word_break_characters = breaks
        rl_attempted_completion_function = attemptCompletion
        // Inside "...", the word is everything after the quote (paths hold '/', '-', '.'), completed as a
        // file name: `load "runs/ck<Tab>`.
        rl_completer_quote_characters = UnsafePointer(strdup("\""))
        rl_completion_word_break_hook = quotedWordBreaks
        // Signals are ours (see Signals.swift); readline's handlers would only be live inside
        // rl_callback_read_char and would miss the Ctrl-C that arrives while we wait in poll().
        rl_catch_signals = 0
        rl_catch_sigwinch = 0
        // setenv is not thread-safe and other threads may be reading the environment.
        rl_change_environment = 0
        // In callback mode readline answers its own "Display all N possibilities?" and --More-- prompts
        // with yes, so asking would only be noise.
        rl_completion_query_items = 0
        // One Tab lists ambiguous candidates; set before ~/.inputrc is read, so the user's setting still wins.
        _ = rl_variable_bind("show-all-if-ambiguous", "on")
    }
}

private func handleAcceptedLine(_ line: UnsafeMutablePointer<CChar>?) {
    ReadlineState.finished = true
    if let line {
        ReadlineState.acceptedLine = String(cString: line)
        free(line)
    }
    // Removing the handler here stops readline from redrawing the prompt before we return the line.
    rl_callback_handler_remove()
}

/// Inside an open quote only a space ends the word: readline would otherwise skip a break character right
/// after the quote, the '/' that starts an absolute path.
private func quotedWordBreaks() -> UnsafeMutablePointer<CChar>? {
    guard let buffer = rl_line_buffer else { return nil }
    let typed = UnsafeRawBufferPointer(start: buffer, count: Int(rl_point))
    let insideQuotes = typed.reduce(0) { $1 == UInt8(ascii: "\"") ? $0 + 1 : $0 } % 2 == 1
    return insideQuotes ? ReadlineState.quotedWordBreakCharacters : nil
}

private func attemptCompletion(
    _ text: UnsafePointer<CChar>?, _ start: Int32, _ end: Int32
) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
    rl_attempted_completion_over = 1
    guard let text else { return nil }
    if rl_completion_quote_character != 0 {
        // Readline lists the directory, appends '/' to directories and closes the quote after a file.
        rl_filename_completion_desired = 1
        return rl_completion_matches(text, rl_filename_completion_function)
    }
    let word = String(cString: text)
    let line = rl_line_buffer.map {
        String(decoding: UnsafeRawBufferPointer(start: $0, count: Int(end)), as: UTF8.self)
    } ?? ""
    // Readline inserts the longest common prefix of the matches, which would delete typed text if a
    // candidate did not start with the word.
    var seen = Set<String>()
    ReadlineState.matches = ReadlineState.completer(word, line).filter {
        $0.hasPrefix(word) && seen.insert($0).inserted
    }
    ReadlineState.nextMatch = 0
    if ReadlineState.matches.count == 1, let last = ReadlineState.matches[0].last, "=.(".contains(last) {
        // `unroll=`, `inner.` and `f(` are continued directly, not after a space.
        rl_completion_suppress_append = 1
    }
    return rl_completion_matches(text, nextCompletion)
}

private func nextCompletion(_ text: UnsafePointer<CChar>?, _ state: Int32) -> UnsafeMutablePointer<CChar>? {
    guard ReadlineState.nextMatch < ReadlineState.matches.count else { return nil }
    defer { ReadlineState.nextMatch += 1 }
    // Readline frees every match it is given.
    return strdup(ReadlineState.matches[ReadlineState.nextMatch])
}

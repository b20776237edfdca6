import BettyDashboard
import CNcurses
import Glibc

/// The dashboard's terminal through ncurses (the only file that imports it). Opened on any pair of
/// descriptors, so a benchmark can draw into a pseudo-terminal as well as the REPL into its own.
/// Not thread-safe: open, draw, read and close from one thread.
public final class CursesTerminal: TerminalDriver {
    public private(set) var size: GridSize
    public let capabilities: TerminalCapabilities

    private let screen: OpaquePointer
    private let inputFile: UnsafeMutablePointer<FILE>
    private let outputFile: UnsafeMutablePointer<FILE>
    private let outputFD: Int32
    private var saved: termios
    private let dispositions: SignalDispositions
    /// What the terminal shows, so a frame writes only the cells that changed.
    private var shown: CellGrid?
    private var closed = false

    private init(screen: OpaquePointer, inputFile: UnsafeMutablePointer<FILE>, outputFile: UnsafeMutablePointer<FILE>,
                 outputFD: Int32, saved: termios, dispositions: SignalDispositions, capabilities: TerminalCapabilities) {
        self.screen = screen
        self.inputFile = inputFile
        self.outputFile = outputFile
        self.outputFD = outputFD
        self.saved = saved
        self.dispositions = dispositions
        self.capabilities = capabilities
        size = Self.currentSize()
    }

    deinit { close() }

    public static func open(input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO) throws(TerminalError) -> CursesTerminal {
        guard let termValue = getenv("TERM"), termValue.pointee != 0 else { throw .noTerminalType }
        let term = String(cString: termValue)
        guard term != "dumb" else { throw .dumbTerminal }
        guard isatty(input) == 1 else { throw .notATerminal(fd: input) }
        guard isatty(output) == 1 else { throw .notATerminal(fd: output) }
        guard !EmergencyRestore.isArmed else { throw .alreadyOpen }
        setlocale(betty_lc_all(), "")

        var saved = termios()
        guard tcgetattr(output, &saved) == 0 else { throw .system(call: "tcgetattr", errno: errno) }
        // Own descriptors, so closing the FILEs leaves the caller's open.
        let (inputFile, outputFile) = try files(input: input, output: output)
        let dispositions = SignalDispositions.current()
        // ncurses reports resizes only through a SIGWINCH handler of its own, which it installs only
        // where none is set; the REPL has one for its prompt (put back on close).
        signal(SIGWINCH, SIG_DFL)
        guard let screen = newterm(nil, outputFile, inputFile) else {
            fclose(inputFile)
            fclose(outputFile)
            dispositions.restore()
            throw .unknownTerminal(term)
        }
        set_term(screen)
        // raw, not cbreak: Ctrl-C must arrive as the byte 0x03 (pause), never as SIGINT.
        raw()
        noecho()
        keypad(betty_stdscr(), true)
        set_escdelay(25)
        curs_set(0)
        let colors = setUpColors()
        let unicode = String(cString: betty_codeset()) == "UTF-8"
        EmergencyRestore.arm(fd: output, saved: saved, reset: resetSequence())
        return CursesTerminal(screen: screen, inputFile: inputFile, outputFile: outputFile, outputFD: output,
                              saved: saved, dispositions: dispositions,
                              capabilities: TerminalCapabilities(unicode: unicode, colors: colors))
    }

    public func draw(_ grid: CellGrid) {
        guard !closed else { return }
        let window = betty_stdscr()
        let full = shown?.size != grid.size
        if full { werase(window) }
        for row in 0..<min(grid.size.rows, size.rows) {
            for column in 0..<min(grid.size.columns, size.columns) {
                let cell = grid[column, row]
                if !full, shown?[column, row] == cell { continue }
                put(cell, column: column, row: row, window: window)
            }
        }
        shown = grid
        wrefresh(window)
    }

    public func readKey(timeoutMilliseconds: Int) -> TerminalInput? {
        guard !closed else { return nil }
        let window = betty_stdscr()
        wtimeout(window, Int32(clamping: max(0, timeoutMilliseconds)))
        var character: wint_t = 0
        let result = wget_wch(window, &character)
        if result == betty_key_code_yes() {
            guard Int32(bitPattern: character) == betty_key_resize() else { return nil }
            // ncurses has already resized its screens; what it showed is gone.
            size = Self.currentSize()
            shown = nil
            return .resize(size)
        }
        guard result == betty_ok(), let scalar = Unicode.Scalar(UInt32(character)) else { return nil }
        return .key(scalar)
    }

    public func close() {
        guard !closed else { return }
        closed = true
        endwin()
        delscreen(screen)
        fclose(inputFile)
        fclose(outputFile)
        _ = tcsetattr(outputFD, TCSANOW, &saved)
        dispositions.restore()
        EmergencyRestore.disarm()
    }

    private func put(_ cell: Cell, column: Int, row: Int, window: UnsafeMutablePointer<WINDOW>?) {
        var scalar = cell.character
        if scalar.value < 0x20 || scalar.value == 0x7f { scalar = " " }
        // Outside a UTF-8 locale curses would print a multibyte character as garbage.
        if !capabilities.unicode && !scalar.isASCII { scalar = "?" }
        var attributes = betty_a_normal()
        if cell.style.bold { attributes |= betty_a_bold() }
        if cell.style.dim { attributes |= betty_a_dim() }
        if cell.style.reverse { attributes |= betty_a_reverse() }
        let pair = capabilities.colors ? cell.style.foreground.map { Int16($0.rawValue + 1) } ?? 0 : 0
        let text: [wchar_t] = [wchar_t(bitPattern: scalar.value), 0]
        var character = cchar_t()
        setcchar(&character, text, attributes, pair, nil)
        mvwadd_wch(window, Int32(row), Int32(column), &character)
    }

    private static func currentSize() -> GridSize {
        let window = betty_stdscr()
        return GridSize(columns: Int(betty_maxx(window)), rows: Int(betty_maxy(window)))
    }

    private static func files(input: Int32, output: Int32) throws(TerminalError)
        -> (UnsafeMutablePointer<FILE>, UnsafeMutablePointer<FILE>) {
        guard let inputFile = fdopen(dup(input), "r") else { throw .system(call: "fdopen", errno: errno) }
        guard let outputFile = fdopen(dup(output), "w") else {
            let code = errno
            fclose(inputFile)
            throw .system(call: "fdopen", errno: code)
        }
        return (inputFile, outputFile)
    }

    /// One pair per `Color` on the terminal's own background; false when the terminal has no colour.
    private static func setUpColors() -> Bool {
        guard has_colors() else { return false }
        start_color()
        let background: Int16 = use_default_colors() == betty_ok() ? -1 : Int16(COLOR_BLACK)
        for color in Color.allCases {
            init_pair(Int16(color.rawValue + 1), Int16(color.rawValue), background)
        }
        return true
    }

    /// What `endwin` would send, captured now for the signal handler, which cannot call curses.
    private static func resetSequence() -> [UInt8] {
        var bytes: [UInt8] = []
        for capability in ["sgr0", "cnorm", "rmkx", "rmcup"] {
            guard let value = tigetstr(capability), Int(bitPattern: value) != -1 else { continue }
            bytes += withoutPadding(Array(String(cString: value).utf8))
        }
        return bytes
    }

    /// terminfo's delay markers (`$<5>`) are for tputs, not for the terminal.
    private static func withoutPadding(_ bytes: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "$"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "<"),
               let end = bytes[index...].firstIndex(of: UInt8(ascii: ">")) {
                index = end + 1
            } else {
                result.append(bytes[index])
                index += 1
            }
        }
        return result
    }
}

@testable import BettyScript
import Betty
@testable import BettyNN
import BettyTensor
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

/// `export NAME.params`, `export history` and `plot`: the files hold exactly what the session has, and
/// a refused one changes nothing.
@Suite struct ExportPlotTests {
    private static func scratch() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("betty-export-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    private static let program = tinyProgram + """

        problem net
          module    mlp 4 -> 3 -> 2
          optimizer sgd lr=0.1
          data      train batch=20
          loss      cross_entropy(net(x), y)
        end
        validate every 10: acc = accuracy(net(valid.x), valid.y), vl = bce_logits(valid.x @ inner.params, valid.y)
        run 30
        """

    @Test func parametersReadBackBitForBit() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (session, transcript) = replay(Self.program)
        #expect(transcript.errors.isEmpty, "\(transcript.errors)")
        for (what, problem, index) in [("inner.params", "inner", 0), ("net.0.weight", "net", 0), ("net.2.bias", "net", 3)] {
            let path = "\(directory)/\(what).npy"
            #expect(session.execute("export \(what) \"\(path)\"") == nil)
            let read = try NPYReader.read(path: path)
            let expected = session.program.bindings.refs[problem]!.problem!.module.parameters[index].value
            #expect(read.shape == expected.shape)
            #expect(read.scalars.map(\.bitPattern) == expected.scalars.map(\.bitPattern), "\(what)")
        }
        #expect(transcript.text.contains("exported net.0.weight, shape [3, 4] (12 float32 values), to \(directory)/net.0.weight.npy"))
    }

    @Test func historyHoldsEverySeriesWithItsCounts() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (session, transcript) = replay(Self.program)
        let path = "\(directory)/history.csv"
        #expect(session.execute("export history \"\(path)\"") == nil)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.first == "series,global_step,local_step,value")
        var rows: [String: [[String]]] = [:]
        for line in lines.dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(fields.count == 4)
            rows[fields[0], default: []].append(fields)
        }
        // inner steps every global step, outer every 5 (unroll 5), net every step; validation at 10, 20, 30.
        let counts = rows.mapValues(\.count)
        #expect(counts == ["inner/loss": 30, "outer/loss": 6, "net/loss": 30, "hypergradient_norm/outer": 6,
                           "validation/acc": 3, "validation/vl": 3, "memory/live_bytes": 30, "memory/peak_bytes": 30])
        // Every value is the event's, bit for bit, at its global and local step.
        for case let .step(e) in transcript.events {
            let row = rows["\(e.problem)/loss"]![e.localStep - 1]
            #expect(row[1] == "\(e.globalStep)" && row[2] == "\(e.localStep)")
            #expect(Float(row[3])?.bitPattern == e.loss.bitPattern, "\(row)")
            if let norm = e.hypergradientNorm {
                #expect(rows["hypergradient_norm/\(e.problem)"]!.contains { $0[1] == "\(e.globalStep)" && Float($0[3])?.bitPattern == norm.bitPattern })
            }
        }
        #expect(rows["validation/acc"]!.map { $0[1] } == ["10", "20", "30"])
        #expect(rows["validation/acc"]!.allSatisfy { $0[2].isEmpty })
        #expect(transcript.text.contains("exported 8 series (138 rows: series,global_step,local_step,value) to \(path)"))
    }

    /// `reset` takes the engine back to step 0: the history starts over with it.
    @Test func historyFollowsTheTrajectory() throws {
        let (session, _) = replay(Self.program + "\nreset\nrun 4")
        #expect(session.program.history.columns["inner/loss"]!.steps == [1, 2, 3, 4])
        #expect(session.program.history.columns["validation/acc"] == nil)
    }

    @Test func refusalsAreOneLineAndChangeNothing() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (session, _) = replay(Self.program)
        let existing = "\(directory)/kept.npy"
        try Data("before".utf8).write(to: URL(fileURLWithPath: existing))
        let before = SessionState.snapshot(session, history: true)
        let cases: [(String, String)] = [
            ("export nett.params \"\(existing)\"", "unknown problem 'nett' (did you mean 'net'?)"),
            ("export net.params \"\(existing)\"", "problem 'net' has 4 parameter tensors; name one"),
            ("export net.0.wieght \"\(existing)\"", "problem 'net' has no parameter or metric '0.wieght'"),
            ("export inner.loss \"\(existing)\"", "'inner.loss' is a number, not a parameter tensor"),
            ("export train.x \"\(existing)\"", "'train' is a data set"),
            ("export inner.params \"\(directory)/missing/p.npy\"", "the directory \(directory)/missing does not exist"),
            ("export history \"\(directory)\"", "it is a directory, not a regular file"),
            ("plot \"\(directory)/missing/p.svg\"", "the directory \(directory)/missing does not exist"),
            ("plot \"p.svg\" lg", "plot takes an optional \"FILE.svg\" and optionally 'log', got 'lg'"),
        ]
        for (command, expected) in cases {
            let error = session.execute(command)
            #expect(error?.message.contains(expected) == true, "\(command): \(error?.message ?? "no error")")
            #expect(error?.message.contains("\n") == false, "\(command)")
        }
        #expect(before == SessionState.snapshot(session, history: true), "\(SessionState.difference(before, SessionState.snapshot(session, history: true)))")
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "before")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["kept.npy"])
        // Before any step there is nothing to export or plot.
        let (fresh, _) = replay(tinyProgram)
        #expect(fresh.execute("export history \"\(directory)/h.csv\"")?.message == "nothing to export: no step has been taken yet ('run' first)")
        #expect(fresh.execute("plot \"\(directory)/p.svg\"")?.message == "nothing to plot: no step has been taken yet ('run' first)")
    }

    // MARK: - Plots

    /// What a test reads from an SVG: each panel's scale, tick labels and series paths.
    final class SVGReader: NSObject, XMLParserDelegate {
        struct Panel { var title = "", scale = "", xTicks: [String] = [], yTicks: [String] = [], series: [String: String] = [:], legend: [String] = [] }
        var panels: [Panel] = []
        private var textClass: String?
        private var text = ""

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            switch name {
            case "g" where attributes["class"] == "panel":
                panels.append(Panel(title: attributes["data-title"] ?? "", scale: attributes["data-scale"] ?? ""))
            case "path" where attributes["class"] == "series":
                panels[panels.count - 1].series[attributes["data-series"] ?? ""] = attributes["d"] ?? ""
            case "text":
                textClass = attributes["class"]
                text = ""
            default: break
            }
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            guard name == "text", let c = textClass else { return }
            switch c {
            case "xtick": panels[panels.count - 1].xTicks.append(text)
            case "ytick": panels[panels.count - 1].yTicks.append(text)
            case "legend": panels[panels.count - 1].legend.append(text)
            default: break
            }
            textClass = nil
        }

        static func read(_ svg: String) throws -> SVGReader {
            let reader = SVGReader()
            let parser = XMLParser(data: Data(svg.utf8))
            parser.delegate = reader
            guard parser.parse() else { throw ScriptError("not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?")") }
            return reader
        }
    }

    /// Points in a path: one per M or L command.
    private static func points(_ d: String) -> Int { d.filter { $0 == "M" || $0 == "L" }.count }

    /// Evenly spaced labels whose step is 1, 2 or 5 times a power of ten.
    private static func isNiceLinear(_ labels: [String]) -> Bool {
        let values = labels.compactMap(Double.init)
        guard values.count == labels.count, values.count >= 2 else { return false }
        let step = values[1] - values[0]
        let mantissa = step / pow(10, log10(step).rounded(.down))
        let nice = [1.0, 2, 5, 10].contains { abs(mantissa - $0) < 1e-6 }
        let even = zip(values, values.dropFirst()).allSatisfy { abs(($1 - $0) - step) <= 1e-9 * max(1, abs(step)) }
        let multiples = values.allSatisfy { abs(($0 / step).rounded() * step - $0) <= 1e-9 * max(1, abs($0)) }
        return nice && even && multiples
    }

    @Test func plotOfASessionIsWellFormedWithOnePathPerSeries() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (session, transcript) = replay(Self.program)
        let path = "\(directory)/plot.svg"
        #expect(session.execute("plot \"\(path)\"") == nil)
        #expect(transcript.text.hasSuffix("plotted 5 panels (6 series) to \(path)"))
        let svg = try String(contentsOfFile: path, encoding: .utf8)
        let reader = try SVGReader.read(svg)
        #expect(reader.panels.map(\.title) == ["inner: loss", "outer: loss", "net: loss", "hypergradient norm", "validation"])
        #expect(reader.panels.map { $0.series.keys.sorted() } == [["inner loss"], ["outer loss"], ["net loss"], ["outer"], ["acc", "vl"]])
        let expected = [["inner loss": 30], ["outer loss": 6], ["net loss": 30], ["outer": 6], ["acc": 3, "vl": 3]]
        #expect(reader.panels.map { $0.series.mapValues(Self.points) } == expected)
        for panel in reader.panels {
            #expect(panel.scale == "linear")
            #expect(panel.legend.sorted() == panel.series.keys.sorted(), "a legend entry per series")
            #expect(Self.isNiceLinear(panel.yTicks), "\(panel.title): \(panel.yTicks)")
            #expect(Self.isNiceLinear(panel.xTicks), "\(panel.title): \(panel.xTicks)")
        }
        // Without a file name: betty-plot.svg in the working directory.
        let cwd = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(directory)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(cwd) }
        #expect(session.execute("plot log") == nil)
        #expect(FileManager.default.fileExists(atPath: "\(directory)/betty-plot.svg"))
    }

    @Test func logScaleTicksAtPowersOfTenAndRefusesNonPositivePanels() throws {
        let steps = Array(1...200)
        let decay = PlotSeries(name: "decay", x: steps, y: steps.map { 10 * pow(10, -Double($0) / 40) })
        let signed = PlotSeries(name: "signed", x: steps, y: steps.map { sin(Double($0) / 10) })
        var withNaN = decay
        withNaN.name = "gaps"
        withNaN.y[50] = .nan
        withNaN.y[51] = .infinity
        let figure = PlotFigure(panels: [PlotPanel(title: "decay", yLabel: "loss", series: [decay, withNaN]),
                                         PlotPanel(title: "signed", yLabel: "value", series: [signed])], logScale: true)
        let (svg, notes) = figure.svg()
        let reader = try SVGReader.read(svg)
        #expect(reader.panels.map(\.scale) == ["log", "linear"])
        // 10 down to 1e-4: every decade, labelled as written.
        #expect(reader.panels[0].yTicks == ["0.0001", "0.001", "0.01", "0.1", "1", "10"])
        #expect(Self.points(reader.panels[0].series["decay"]!) == 200)
        #expect(Self.points(reader.panels[0].series["gaps"]!) == 198)
        #expect(reader.panels[0].series["gaps"]!.filter { $0 == "M" }.count == 2, "the line breaks at the NaN")
        #expect(Self.isNiceLinear(reader.panels[1].yTicks))
        #expect(notes.contains { $0.hasPrefix("signed stays linear: ") && $0.contains(" of its values are <= 0 (the smallest -") }, "\(notes)")
        #expect(notes.contains("gaps: 2 NaN or infinite values left out (the line breaks there)"))
    }

    @Test func niceTicks() {
        #expect(NiceTicks.linear(0.013, 0.087).ticks == [0, 0.02, 0.04, 0.06, 0.08, 0.1])
        #expect(NiceTicks.linear(1, 1000).ticks == [0, 200, 400, 600, 800, 1000])
        #expect(NiceTicks.linear(-3, 7).ticks == [-4, -2, 0, 2, 4, 6, 8])
        #expect(NiceTicks.linear(5, 5).ticks == [4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6])
        #expect(NiceTicks.logarithmic(0.2, 0.9).labels == ["0.2", "0.4", "0.6", "0.8"], "less than a decade: linear steps")
        #expect(NiceTicks.logarithmic(0.15, 9).labels == ["0.1", "1", "10"], "two decades or more: the axis widened to whole decades")
        #expect(NiceTicks.logarithmic(0.3, 4).labels == ["0.5", "1", "2"])
        #expect(NiceTicks.logarithmic(0.01, 100).labels == ["0.01", "0.1", "1", "10", "100"])
        #expect(NiceTicks.logarithmic(1e-12, 1e6).labels == ["1e-12", "1e-09", "1e-06", "0.001", "1", "1000", "1e+06"])
        #expect(NiceTicks.label(2e-5, step: 1e-5) == "2e-05")
        #expect(NiceTicks.label(0.30000000000000004, step: 0.1) == "0.3")
    }

    /// The figure as Debian's tools see it: `xmllint` parses it and `rsvg-convert` renders it.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/xmllint") && FileManager.default.isExecutableFile(atPath: "/usr/bin/rsvg-convert"),
                   "xmllint or rsvg-convert is not installed (apt-get install libxml2-utils librsvg2-bin)"))
    func xmllintAndRsvgAcceptIt() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (session, _) = replay(Self.program)
        #expect(session.execute("plot \"\(directory)/p.svg\" log") == nil)
        for (tool, arguments) in [("/usr/bin/xmllint", ["--noout", "\(directory)/p.svg"]),
                                  ("/usr/bin/rsvg-convert", ["\(directory)/p.svg", "-o", "\(directory)/p.png"])] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = arguments
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(tool)")
        }
        let png = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/p.png"))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 10_000)
        // Where the curves are, the rendering is not background: every point of every series path
        // has a pixel of its colour's kind (not white) within a pixel of it.
        let image = try #require(Self.decodePNG([UInt8](png)), "rsvg-convert's PNG could not be decoded")
        let svg = try String(contentsOfFile: "\(directory)/p.svg", encoding: .utf8)
        var points = 0, inked = 0
        for path in svg.components(separatedBy: "<path class=\"series\"").dropFirst() {
            guard let d = path.components(separatedBy: " d=\"").dropFirst().first?.prefix(while: { $0 != "\"" }) else { continue }
            let numbers = d.split(whereSeparator: { $0 == " " || $0 == "M" || $0 == "L" }).compactMap { Double($0) }
            for i in stride(from: 0, to: numbers.count - 1, by: 2) {
                points += 1
                let (x, y) = (Int(numbers[i].rounded()), Int(numbers[i + 1].rounded()))
                let dark = (-1...1).contains { dy in (-1...1).contains { dx in image.isInk(x + dx, y + dy) } }
                if dark { inked += 1 }
            }
        }
        #expect(points > 50)
        #expect(inked == points, "\(points - inked) of \(points) curve points have only background around them")
        // And the panels' insides are not all ink: background is there to compare with.
        #expect(!image.isInk(2, 2))
    }

    /// An 8-bit RGB or RGBA PNG, unfiltered, with `isInk` telling a drawn pixel from the white page.
    struct Image {
        var width: Int, height: Int, channels: Int, pixels: [UInt8]
        func isInk(_ x: Int, _ y: Int) -> Bool {
            guard x >= 0, y >= 0, x < width, y < height else { return false }
            let p = (y * width + x) * channels
            let alpha = channels == 4 ? pixels[p + 3] : 255
            return alpha > 0 && (pixels[p] < 200 || pixels[p + 1] < 200 || pixels[p + 2] < 200)
        }
    }

    static func decodePNG(_ bytes: [UInt8]) -> Image? {
        func be32(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
        var offset = 8, width = 0, height = 0, channels = 0
        var data: [UInt8] = []
        while offset + 8 <= bytes.count {
            let length = be32(offset)
            let type = String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self)
            let body = Array(bytes[offset + 8..<offset + 8 + length])
            if type == "IHDR" {
                width = Int(body[0]) << 24 | Int(body[1]) << 16 | Int(body[2]) << 8 | Int(body[3])
                height = Int(body[4]) << 24 | Int(body[5]) << 16 | Int(body[6]) << 8 | Int(body[7])
                guard body[8] == 8, body[12] == 0 else { return nil }
                switch body[9] { case 2: channels = 3; case 6: channels = 4; default: return nil }
            } else if type == "IDAT" {
                data += body
            }
            offset += 12 + length
        }
        guard channels > 0, data.count > 2 else { return nil }
        let stride = width * channels
        var raw = [UInt8](repeating: 0, count: height * (stride + 1))
        // The zlib stream's two header bytes off, the rest is raw deflate.
        let result = Array(data.dropFirst(2)).withUnsafeBytes { input in raw.withUnsafeMutableBytes { Zlib.inflateRaw(input, into: $0) } }
        guard case .ended = result else { return nil }
        var pixels = [UInt8](repeating: 0, count: height * stride)
        for row in 0..<height {
            let filter = raw[row * (stride + 1)]
            for i in 0..<stride {
                let x = raw[row * (stride + 1) + 1 + i]
                let a = i >= channels ? Int(pixels[row * stride + i - channels]) : 0
                let b = row > 0 ? Int(pixels[(row - 1) * stride + i]) : 0
                let c = row > 0 && i >= channels ? Int(pixels[(row - 1) * stride + i - channels]) : 0
                let predicted: Int
                switch filter {
                case 1: predicted = a
                case 2: predicted = b
                case 3: predicted = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c
                default: predicted = 0
                }
                pixels[row * stride + i] = UInt8(truncatingIfNeeded: Int(x) + predicted)
            }
        }
        return Image(width: width, height: height, channels: channels, pixels: pixels)
    }
}

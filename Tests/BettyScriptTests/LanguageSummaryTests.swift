import Foundation
import Testing
@testable import BettyScript

/// `help` and README's "BettyScript in one screen" are the same text, printed from the option tables.
@Suite struct LanguageSummaryTests {
    static let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("README.md")

    @Test func readmeShowsTheSummaryThatHelpPrints() throws {
        let text = try String(contentsOf: Self.readme, encoding: .utf8)
        let heading = try #require(text.range(of: "## BettyScript in one screen"))
        let open = try #require(text.range(of: "```\n", range: heading.upperBound..<text.endIndex))
        let close = try #require(text.range(of: "\n```", range: open.upperBound..<text.endIndex))
        let shown = String(text[open.upperBound..<close.lowerBound])
        // On a difference, replace README's block with `echo help | betty-repl --headless` minus its topic lines.
        #expect(shown == Session.languageSummary, "README's summary differs from help's; regenerate it")
        let (_, transcript) = replay("help")
        #expect(transcript.text.hasSuffix(Session.languageSummary))
    }

    @Test func everyTableAppearsInTheSummaryOrInATopic() {
        let summary = Session.languageSummary
        for table in OptionTables.all {
            for spec in table.options where spec.aliasOf == nil {
                #expect(summary.contains(spec.key), "\(table.statement): \(spec.key) is not in the summary")
            }
        }
    }

    @Test func everyTopicPrintsAndEveryOptionIsInItsTopic() {
        var printed = ""
        for topic in Session.helpTopicNames {
            let (_, transcript) = replay("help \(topic)")
            #expect(transcript.errors.isEmpty, "help \(topic)")
            printed += transcript.text
        }
        for table in OptionTables.all where !table.options.isEmpty {
            #expect(printed.contains(table.detailed), "\(table.statement) is in no help topic")
        }
    }
}

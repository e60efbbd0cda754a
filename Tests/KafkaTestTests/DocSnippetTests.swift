import Foundation
import Testing
import KafkaTestSupport

/// Every ```swift block of the documentation must be compiled code: each DocC article
/// (`Sources/**/*.docc/*.md`) and README.md is read, and each of its Swift blocks must appear
/// verbatim in a file of `Tests/KafkaTestTests/DocSnippets`, which the test target compiles (and
/// partly runs). "Verbatim" allows two differences only: trailing whitespace, and indentation
/// added to every line of the block (a block inside a function body).
///
/// A block that is not Swift meant to compile (manifest lines, shell commands) takes another
/// fence language: ```text, ```sh, or none.
@Suite("Documentation snippets are compiled code", .ownThreads)
struct DocSnippetTests {
    /// The package root: three levels above this file (Tests/KafkaTestTests/DocSnippetTests.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Documents whose Swift blocks are checked, relative to the package root.
    static let documents: [String] = {
        var found: [String] = []
        let sources = root.appendingPathComponent("Sources")
        let enumerator = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        while let url = enumerator?.nextObject() as? URL {
            let path = url.path
            guard url.pathExtension == "md", url.deletingLastPathComponent().pathExtension == "docc" else { continue }
            found.append(String(path.dropFirst(root.path.count + 1)))
        }
        return found.sorted() + ["README.md"]
    }()

    @Test("the catalogs are found")
    func catalogsFound() throws {
        let articles = Self.documents.filter { $0.hasPrefix("Sources/") }
        #expect(articles.count >= 10, "found only \(articles)")
        #expect(articles.contains("Sources/Kafka/Kafka.docc/Kafka.md"))
        #expect(try !Self.snippetSources().isEmpty)
    }

    @Test("every Swift block appears verbatim in Tests/KafkaTestTests/DocSnippets", arguments: documents)
    func blocksAreCompiled(document: String) throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent(document), encoding: .utf8)
        let sources = try Self.snippetSources()
        for block in SwiftBlock.all(in: text) where !block.lines.isEmpty {
            let found = sources.contains { SwiftBlock.contains($0.lines, block.lines) }
            #expect(
                found,
                """
                \(document), Swift block \(block.number) (line \(block.line)) does not appear verbatim in \
                Tests/KafkaTestTests/DocSnippets; it starts: \(block.lines.prefix(2).joined(separator: " ⏎ "))
                """
            )
        }
    }

    @Test("the block extraction: fences, languages, indentation")
    func extraction() {
        let text = """
            Text.

            ```swift
              let a = 1

              if a == 1 {
                  print(a)   \("")
              }
            ```

            ```text
            not swift
            ```

            - item:
              ```swift
              let b = 2
              ```
            """
        let blocks = SwiftBlock.all(in: text)
        #expect(blocks.map(\.lines) == [["let a = 1", "", "if a == 1 {", "    print(a)", "}"], ["let b = 2"]])
        #expect(blocks.map(\.line) == [3, 16])
        let source = ["func f() {", "    let a = 1", "", "    if a == 1 {", "        print(a)", "    }", "}"]
        #expect(SwiftBlock.contains(source, blocks[0].lines))
        #expect(!SwiftBlock.contains(source, ["let a = 2"]))
        #expect(!SwiftBlock.contains(["x let a = 1"], ["let a = 1"]))
    }

    /// The snippet files' lines, trailing whitespace removed.
    static func snippetSources() throws -> [(path: String, lines: [String])] {
        let directory = root.appendingPathComponent("Tests/KafkaTestTests/DocSnippets")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".swift") }.sorted()
        return try names.map { name in
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            return (name, text.components(separatedBy: "\n").map(SwiftBlock.trimmingTrailingWhitespace))
        }
    }
}

/// One fenced block whose language is `swift`, as written in a Markdown document.
struct SwiftBlock {
    /// Its number among the document's Swift blocks, from 1.
    let number: Int
    /// The line of its opening fence, from 1.
    let line: Int
    /// Its lines without trailing whitespace and without their common indentation; leading and
    /// trailing empty lines removed.
    let lines: [String]

    /// The Swift blocks of `markdown`, in order.
    static func all(in markdown: String) -> [SwiftBlock] {
        let lines = markdown.components(separatedBy: "\n")
        var blocks: [SwiftBlock] = []
        var index = 0
        while index < lines.count {
            let trimmed = lines[index].drop { $0 == " " || $0 == "\t" }
            guard trimmed.hasPrefix("```") else {
                index += 1
                continue
            }
            let fence = trimmed.prefix { $0 == "`" }
            let language = trimmed.dropFirst(fence.count).split(separator: " ").first.map(String.init) ?? ""
            let opening = index
            var body: [String] = []
            index += 1
            while index < lines.count {
                let candidate = lines[index].drop { $0 == " " || $0 == "\t" }
                if candidate.hasPrefix(fence), trimmingTrailingWhitespace(String(candidate.dropFirst(fence.count))).isEmpty { break }
                body.append(lines[index])
                index += 1
            }
            index += 1
            if language == "swift" {
                blocks.append(SwiftBlock(number: blocks.count + 1, line: opening + 1, lines: normalized(body)))
            }
        }
        return blocks
    }

    /// `lines` without trailing whitespace, leading and trailing empty lines, and common indentation.
    static func normalized(_ lines: [String]) -> [String] {
        var result = lines.map(trimmingTrailingWhitespace)
        while result.first?.isEmpty == true { result.removeFirst() }
        while result.last?.isEmpty == true { result.removeLast() }
        let indentation = result.filter { !$0.isEmpty }.map { $0.prefix { $0 == " " }.count }.min() ?? 0
        return result.map { $0.isEmpty ? $0 : String($0.dropFirst(indentation)) }
    }

    /// Whether `source` holds `block` as consecutive lines, each non-empty one preceded by the
    /// same indentation (spaces only).
    static func contains(_ source: [String], _ block: [String]) -> Bool {
        guard let first = block.first, !first.isEmpty, source.count >= block.count else { return false }
        for start in 0...(source.count - block.count) where source[start].hasSuffix(first) {
            let indentation = String(source[start].dropLast(first.count))
            guard indentation.allSatisfy({ $0 == " " }) else { continue }
            let matches = block.indices.allSatisfy { offset in
                block[offset].isEmpty ? source[start + offset].isEmpty : source[start + offset] == indentation + block[offset]
            }
            if matches { return true }
        }
        return false
    }

    static func trimmingTrailingWhitespace(_ line: String) -> String {
        var line = Substring(line)
        while let last = line.last, last == " " || last == "\t" || last == "\r" { line.removeLast() }
        return String(line)
    }
}

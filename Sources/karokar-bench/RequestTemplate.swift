import KaroKarProto
import KaroKarToolSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `--data` with placeholders in string values, filled in per request:
///
/// - `{{seq}}`: the request's sequence number (0, 1, 2, ... across all connections); `{{seq * N}}`
///   that times N, `{{seq * N + M}}` plus M
/// - `{{uuid}}`: a random UUID
/// - `{{randomInt MIN MAX}}`: an integer in MIN...MAX
/// - `{{randomString N}}`: N random letters and digits
/// - `{{now}}`: the current Unix time in seconds
/// - `{{randomDate FROM TO}}`: Unix seconds of a random instant from day FROM to the start of day TO (`2026-01-01`)
/// - `{{prev + N}}`: the number the previous numeric placeholder of this request produced, plus N
///   (a period's end after its random start: `"start": {"seconds": "{{randomInt A B}}"}, "end":
///   {"seconds": "{{prev + 3600}}"}`)
///
/// Integer fields accept the text (`{"seconds": "{{randomDate 2026-01-01 2027-01-01}}"}`), as
/// protobuf's JSON mapping reads integers from strings. Without placeholders the request is
/// encoded once.
struct RequestTemplate: Sendable {
    fileprivate enum Piece: Sendable {
        case text(String)
        case sequence(Int64, Int64)
        case uuid, now
        case randomInt(Int64, Int64)
        case randomString(Int)
        case randomSeconds(Int64, Int64)
        case previousPlus(Int64)
    }

    fileprivate enum Node: Sendable {
        case fixed(JSONValue)
        case string([Piece])
        case array([Node])
        case object([(String, Node)])
    }

    let typeName: String
    private let root: Node
    /// The encoded request when there are no placeholders.
    let fixedPayload: [UInt8]?

    init(jsonText: String, typeName: String) throws(ToolError) {
        self.typeName = typeName
        root = try Self.compile(MessageCodec.parse(jsonText))
        if case .fixed(let json) = root {
            fixedPayload = try MessageCodec.encode(json: json, typeName: typeName)
        } else {
            fixedPayload = nil
            var random = BenchRandom(seed: 1)
            _ = try render(sequence: 0, random: &random)  // a bad placeholder or field type fails here, not mid-run
        }
    }

    /// The request for call number `sequence`.
    func render(sequence: UInt64, random: inout BenchRandom) throws(ToolError) -> [UInt8] {
        if let fixedPayload { return fixedPayload }
        return try MessageCodec.encode(json: Self.fill(root, sequence, &random), typeName: typeName)
    }

    // MARK: - Compiling

    private static func compile(_ json: JSONValue) throws(ToolError) -> Node {
        switch json {
        case .string(let text) where text.contains("{{"):
            return .string(try pieces(text))
        case .array(let elements):
            let nodes = try elements.map { (element) throws(ToolError) in try compile(element) }
            return nodes.allSatisfy(\.isFixed) ? .fixed(json) : .array(nodes)
        case .object(let members):
            let nodes = try members.map { (member) throws(ToolError) in (member.key, try compile(member.value)) }
            return nodes.allSatisfy(\.1.isFixed) ? .fixed(json) : .object(nodes)
        default:
            return .fixed(json)
        }
    }

    private static func pieces(_ text: String) throws(ToolError) -> [Piece] {
        var result: [Piece] = []
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else { throw ToolError("unclosed {{ in \"\(text)\"") }
            if open.lowerBound > rest.startIndex { result.append(.text(String(rest[..<open.lowerBound]))) }
            result.append(try placeholder(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { result.append(.text(String(rest))) }
        return result
    }

    private static func placeholder(_ text: Substring) throws(ToolError) -> Piece {
        let words = text.split(separator: " ").map(String.init)
        switch (words.first ?? "", words.count) {
        case ("seq", 1): return .sequence(1, 0)
        case ("seq", 3) where words[1] == "*":
            guard let factor = Int64(words[2]) else { break }
            return .sequence(factor, 0)
        case ("seq", 5) where words[1] == "*" && words[3] == "+":
            guard let factor = Int64(words[2]), let offset = Int64(words[4]) else { break }
            return .sequence(factor, offset)
        case ("uuid", 1): return .uuid
        case ("now", 1): return .now
        case ("randomInt", 3):
            guard let low = Int64(words[1]), let high = Int64(words[2]), low <= high else { break }
            return .randomInt(low, high)
        case ("randomString", 2):
            guard let length = Int(words[1]), (1...4096).contains(length) else { break }
            return .randomString(length)
        case ("prev", 3) where words[1] == "+" || words[1] == "-":
            guard let amount = Int64(words[2]) else { break }
            return .previousPlus(words[1] == "+" ? amount : -amount)
        case ("randomDate", 3):
            guard let from = CivilDate.unixSeconds(words[1]), let to = CivilDate.unixSeconds(words[2]), from < to else { break }
            return .randomSeconds(from, to - 1)
        default: break
        }
        throw ToolError("unknown or malformed placeholder {{\(text)}}; known: {{seq}} {{seq * N}} {{seq * N + M}} {{uuid}} {{now}} {{randomInt MIN MAX}} {{randomString N}} {{randomDate YYYY-MM-DD YYYY-MM-DD}} {{prev + N}}")
    }
}

// MARK: - Filling in

extension RequestTemplate {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

    private static func fill(_ node: Node, _ sequence: UInt64, _ random: inout BenchRandom) -> JSONValue {
        var previous: Int64 = 0
        return fill(node, sequence, &random, &previous)
    }

    private static func fill(_ node: Node, _ sequence: UInt64, _ random: inout BenchRandom, _ previous: inout Int64) -> JSONValue {
        switch node {
        case .fixed(let json): return json
        case .string(let pieces): return .string(pieces.map { text(of: $0, sequence, &random, &previous) }.joined())
        case .array(let nodes): return .array(nodes.map { fill($0, sequence, &random, &previous) })
        case .object(let members): return .object(members.map { JSONMember($0.0, fill($0.1, sequence, &random, &previous)) })
        }
    }

    private static func text(of piece: Piece, _ sequence: UInt64, _ random: inout BenchRandom, _ previous: inout Int64) -> String {
        func number(_ value: Int64) -> String {
            previous = value
            return String(value)
        }
        switch piece {
        case .text(let text): return text
        case .sequence(let factor, let offset): return number(Int64(truncatingIfNeeded: sequence) &* factor &+ offset)
        case .uuid: return random.uuid()
        case .now: return number(Int64(time(nil)))
        case .randomInt(let low, let high): return number(Int64.random(in: low...high, using: &random))
        case .randomString(let length): return String((0..<length).map { _ in alphabet.randomElement(using: &random)! })
        case .randomSeconds(let low, let high): return number(Int64.random(in: low...high, using: &random))
        case .previousPlus(let amount): return String(previous &+ amount)
        }
    }
}

extension RequestTemplate.Node {
    fileprivate var isFixed: Bool {
        if case .fixed = self { return true }
        return false
    }
}

/// The requests of a run: one template (`--data`), or one per line of `--data-file`, taken in turn
/// by sequence number (round robin over all connections) or at random.
struct RequestSource: Sendable {
    static let maximumLines = 100_000

    let templates: [RequestTemplate]
    let random: Bool

    init(_ template: RequestTemplate) {
        templates = [template]
        random = false
    }

    /// The non-blank lines of `text`, each a JSON request (with placeholders if wanted).
    init(lines text: String, typeName: String, order: String, source: String) throws(ToolError) {
        guard order == "round-robin" || order == "random" else { throw ToolError("--data-order must be round-robin or random") }
        var templates: [RequestTemplate] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmedLine
            guard !trimmed.isEmpty else { continue }
            guard templates.count < Self.maximumLines else { throw ToolError("\(source) has more than \(Self.maximumLines) requests") }
            do {
                templates.append(try RequestTemplate(jsonText: trimmed, typeName: typeName))
            } catch {
                throw ToolError("\(source) line \(number + 1): \(error.message)")
            }
        }
        guard !templates.isEmpty else { throw ToolError("\(source) holds no request (one JSON request per line)") }
        self.templates = templates
        random = order == "random"
    }

    func render(sequence: UInt64, random generator: inout BenchRandom) throws(ToolError) -> [UInt8] {
        let index = templates.count == 1 ? 0 : random ? Int.random(in: 0..<templates.count, using: &generator) : Int(sequence % UInt64(templates.count))
        return try templates[index].render(sequence: sequence, random: &generator)
    }
}

extension Substring {
    fileprivate var trimmedLine: String {
        String(drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }
}

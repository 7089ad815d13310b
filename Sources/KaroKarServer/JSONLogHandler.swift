import Foundation
import KaroKarProto
public import Logging
import Synchronization

/// `log-format json`: one JSON object per line on standard output, for log shippers. Members:
/// `timestamp` (ISO 8601, UTC, milliseconds), `level`, `label`, `message`, `source`, then every
/// metadata entry (the logger's, the provider's, the line's; later ones win) as a string (nested
/// metadata as its description), under its own key. A metadata key that collides with a fixed
/// member is written with a `metadata.` prefix.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let write: @Sendable (String) -> Void

    /// Writes each line to standard output.
    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.init(label: label, metadataProvider: metadataProvider, write: JSONLogHandler.standardOutput)
    }

    /// Hands each line (with its newline) to `write`.
    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        var line = "{"
        Self.member(&line, "timestamp", Self.timestamp(), first: true)
        Self.member(&line, "level", event.level.rawValue)
        Self.member(&line, "label", label)
        Self.member(&line, "message", event.message.description)
        Self.member(&line, "source", event.source)
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            let name = Self.fixedKeys.contains(key) ? "metadata." + key : key
            Self.member(&line, name, value.description)
        }
        line += "}\n"
        write(line)
    }

    static let fixedKeys: Set<String> = ["timestamp", "level", "label", "message", "source"]

    private static func member(_ line: inout String, _ key: String, _ value: String, first: Bool = false) {
        if !first { line += "," }
        escape(key, into: &line)
        line += ":"
        escape(value, into: &line)
    }

    /// A JSON string (``JSONString``).
    static func escape(_ text: String, into line: inout String) {
        JSONString.append(text, to: &line)
    }

    private static func timestamp() -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(Date())
    }

    private static let lock = Mutex(())

    @Sendable
    static func standardOutput(_ line: String) {
        lock.withLock { _ in FileHandle.standardOutput.write(Data(line.utf8)) }
    }
}

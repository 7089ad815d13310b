public import KaroKarRPC

/// Metadata entries as written on the command line: `key: value` or `key=value`.
public enum MetadataText {
    /// Parses entries, checking keys against the protocol's rules (1...64 bytes of `[a-z0-9._-]`,
    /// unique) so a typo is reported here rather than as the server's MALFORMED_METADATA.
    public static func parse(_ entries: [String]) throws(ToolError) -> Metadata {
        var metadata = Metadata()
        for entry in entries {
            let (key, value) = try split(entry)
            guard Metadata.isValidKey(key) else {
                throw ToolError("metadata key \"\(key)\" is invalid: keys are 1 to 64 characters of a-z, 0-9, '.', '_', '-'")
            }
            guard metadata[key] == nil else { throw ToolError("metadata key \"\(key)\" is given twice") }
            metadata[key] = value
        }
        return metadata
    }

    private static func split(_ entry: String) throws(ToolError) -> (String, String) {
        guard let separator = entry.firstIndex(where: { $0 == ":" || $0 == "=" }) else {
            throw ToolError("metadata \"\(entry)\" is not \"key: value\" or \"key=value\"")
        }
        let key = entry[..<separator].trimmingSpaces
        let value = entry[entry.index(after: separator)...].trimmingSpaces
        return (key, value)
    }
}

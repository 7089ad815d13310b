public import KaroKarRPC
public import KaroKarMessages

/// How the tools show a failed call to people, and the exit status it maps to.
public enum StatusText {
    /// `NOT_FOUND`: the canonical name without the `CODE_` prefix, or `CODE_42` when unknown.
    public static func name(of code: RPCCode) -> String {
        guard let name = code.protoValueName else { return "CODE_\(code.rawValue)" }
        return name.hasPrefix("CODE_") ? String(name.dropFirst(5)) : name
    }

    /// Several lines: status and message, then domain code, field violations, retry advice and
    /// detail metadata when present.
    public static func describe(_ error: RPCError) -> String {
        var lines = ["\(name(of: error.code)) (code \(error.code.rawValue)): \(error.message)"]
        if let domainCode = error.domainCode { lines.append("  domain code: \(domainCode)") }
        if !error.fieldViolations.isEmpty {
            lines.append("  field violations:")
            for violation in error.fieldViolations {
                lines.append("    \(violation.field): \(violation.description) [\(violation.code)]")
            }
        }
        if let retry = error.details?.retryInfo {
            lines.append("  retry after: \(retry.retryDelayMillis) ms")
        }
        for (key, value) in (error.details?.metadata ?? [:]).sorted(by: { $0.key < $1.key }) {
            lines.append("  \(key): \(value)")
        }
        return lines.joined(separator: "\n")
    }
}

/// Process exit statuses of the tools, following grpcurl: 0 success, 1 a local failure (bad input,
/// unreadable file), 64 a command-line usage error, 64 + code for a call that failed with a status.
public enum ExitStatus {
    public static let success: Int32 = 0
    public static let localFailure: Int32 = 1
    public static let usage: Int32 = 64

    /// 64 + the status code: 65 CANCELLED ... 77 INTERNAL, 78 UNAVAILABLE, 80 UNAUTHENTICATED.
    /// A code number the tools do not know counts as UNKNOWN (66), as the protocol says.
    public static func forCode(_ code: RPCCode) -> Int32 {
        guard code.isKnown else { return 64 + RPCCode.unknown.rawValue }
        return code.rawValue == 0 ? success : 64 + code.rawValue
    }
}

/// A database failure, classified by SQLSTATE. `description` is generic and safe to log at any
/// level; the server's own text (which may quote data) is only in `debugDescription`, except for
/// an outage (``Category/unavailable``: no connection, too many clients, shutting down), whose
/// text is libpq's or the server's about the connection, never a row's, and is what an operator
/// needs to tell one outage from another.
/// Nothing here ever reaches an RPC client: contexts map the codes they expect to domain errors.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String

        public static let uniqueViolation = Code(rawValue: "23505")
        public static let exclusionViolation = Code(rawValue: "23P01")
        public static let foreignKeyViolation = Code(rawValue: "23503")
        public static let checkViolation = Code(rawValue: "23514")
        public static let notNullViolation = Code(rawValue: "23502")
        public static let serializationFailure = Code(rawValue: "40001")
        public static let deadlockDetected = Code(rawValue: "40P01")
        public static let queryCanceled = Code(rawValue: "57014")
        public static let raiseException = Code(rawValue: "P0001")
        /// Not a SQLSTATE: the connection broke or could not be made.
        public static let connectionFailure = Code(rawValue: "08000")
        /// Not a SQLSTATE: no pooled connection became free in time.
        public static let poolTimeout = Code(rawValue: "KK001")
        /// Not a SQLSTATE: a result column could not be read as the requested type.
        public static let decoding = Code(rawValue: "KK002")
        /// Not a SQLSTATE: a bind value held a character PostgreSQL's text cannot store (NUL).
        /// Refused before sending: libpq would silently cut the value at the NUL.
        public static let invalidBind = Code(rawValue: "KK003")
        public static let lockNotAvailable = Code(rawValue: "55P03")
        /// The session is read-only: a standby, or a primary demoted by a failover.
        public static let readOnlyTransaction = Code(rawValue: "25006")

        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        public var description: String { rawValue }

        /// Worth retrying the whole transaction.
        public var isTransient: Bool {
            self == .serializationFailure || self == .deadlockDetected
        }

        /// The connection is unusable afterwards.
        public var isConnectionFailure: Bool {
            self == .connectionFailure || rawValue.hasPrefix("08") || rawValue.hasPrefix("57P")
        }

        /// What kind of failure this is, for deciding what a caller is told (``Category``).
        public var category: Category {
            if isConnectionFailure { return .unavailable }  // 08xxx, and 57P0x: shutting down, starting up
            switch self {
            case .poolTimeout: return .poolExhausted
            case .serializationFailure, .deadlockDetected, .lockNotAvailable: return .conflict
            case .queryCanceled: return .canceled
            case .readOnlyTransaction: return .unavailable
            default: break
            }
            if rawValue.hasPrefix("53") { return .unavailable }  // insufficient resources: too many connections, disk full
            if rawValue.hasPrefix("23") { return .constraintViolation }
            return .bug
        }
    }

    /// The classes of failure that callers treat differently. The RPC server maps each to one
    /// status (the composition root's translation): only ``bug`` and ``constraintViolation`` are
    /// INTERNAL, since a constraint a context expects is mapped to a domain error by that context
    /// before it gets this far.
    public enum Category: Sendable, Hashable, CustomStringConvertible {
        /// The database cannot be reached, the connection broke, or the server refuses work
        /// (shutting down, out of connections, read-only). Worth retrying later.
        case unavailable
        /// No pooled connection became free in time: the database is slow or the pool too small.
        case poolExhausted
        /// A serialization failure, deadlock or lock timeout that outlived the transaction's own
        /// retries: a concurrency conflict, worth retrying.
        case conflict
        /// The statement was cancelled (the call's task was cancelled, or a statement timeout).
        case canceled
        /// A constraint no context expected: input that validation should have refused.
        case constraintViolation
        /// Anything else: a bug in a statement or in the code around it (a missing table, a
        /// syntax error, a value that does not decode).
        case bug

        public var description: String {
            switch self {
            case .unavailable: "unavailable"
            case .poolExhausted: "pool exhausted"
            case .conflict: "conflict"
            case .canceled: "canceled"
            case .constraintViolation: "constraint violation"
            case .bug: "bug"
            }
        }
    }

    /// This failure's class (``Code/category``).
    public var category: Category { code.category }

    public let code: Code
    /// The constraint involved, when PostgreSQL names one (`vehicle_plate_unique`).
    public let constraint: String?
    let serverMessage: String

    public init(code: Code, constraint: String? = nil, serverMessage: String) {
        self.code = code
        self.constraint = constraint
        self.serverMessage = serverMessage
    }

    public var description: String {
        let generic = "PostgreSQL error \(code.rawValue)" + (constraint.map { " on constraint \($0)" } ?? "")
        guard category == .unavailable, !serverMessage.isEmpty else { return generic }
        return generic + ": " + serverMessage.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: " ")
    }

    public var debugDescription: String {
        "\(description): \(serverMessage)"
    }
}

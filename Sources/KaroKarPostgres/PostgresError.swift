/// A database failure, classified by SQLSTATE. `description` is generic and safe to log at any
/// level; the server's own text (which may quote data) is only in `debugDescription`.
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
    }

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
        "PostgreSQL error \(code.rawValue)" + (constraint.map { " on constraint \($0)" } ?? "")
    }

    public var debugDescription: String {
        "\(description): \(serverMessage)"
    }
}

public import KaroKarRPC

/// A method's access rule with its permissions resolved: what the authorization interceptor
/// checks on every call. Made once per method when the server starts, from the rule its `.proto`
/// declares (``KaroKarRPC/MethodAccess``, copied into the method table by the code generator);
/// the kernel holds no context's method paths.
public enum AccessRequirement: Sendable, Hashable {
    /// Callable without credentials (credentials that are sent are still checked).
    case `public`
    /// Any authenticated principal; the handler scopes what it returns to the caller.
    case authenticated
    /// At least one of these; the handler scopes by which one the caller holds.
    case anyOf(Set<Permission>)

    /// The declared rule, or nil when it names a permission this server does not know (a typo
    /// in a `.proto`: nobody may call the method, and the architecture tests fail).
    public init?(_ declared: MethodAccess) {
        switch declared {
        case .public: self = .public
        case .authenticated: self = .authenticated
        case .permissions(let names):
            let permissions = names.compactMap(Permission.init(rawValue:))
            guard !names.isEmpty, permissions.count == names.count else { return nil }
            self = .anyOf(Set(permissions))
        }
    }

    /// Whether `caller` (nil: no credentials) may call a method with this requirement.
    public func admits(_ caller: Caller?) -> Bool {
        switch self {
        case .public: true
        case .authenticated: caller != nil
        case .anyOf(let permissions): caller.map { !$0.permissions.isDisjoint(with: permissions) } ?? false
        }
    }
}

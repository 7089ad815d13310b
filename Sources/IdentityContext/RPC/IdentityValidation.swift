import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto

/// The Identity context's own input rules, on top of the kernel's.
extension Validation {
    /// A person's name part: 1 to 100 characters.
    mutating func personName(_ value: String, _ field: String) -> String {
        text(value, field, maximumLength: 100)
    }

    /// A new user's details: names of 1 to 100 characters, an e-mail (lower-cased), an optional
    /// phone. `prefix` names the fields (`admin`: `adminFirstName`, ...).
    mutating func profile(
        firstName: String, lastName: String, email: String, phone: CommonV1.StringValue?, prefix: String = ""
    ) -> UserProfile {
        func field(_ name: String) -> String { prefix.isEmpty ? name : prefix + name.prefix(1).uppercased() + name.dropFirst() }
        return UserProfile(
            firstName: personName(firstName, field("firstName")), lastName: personName(lastName, field("lastName")),
            email: self.email(email, field("email")), phone: self.phone(phone, field("phone"))
        )
    }

    /// E.164: `+`, then 7 to 15 digits, the first not 0.
    mutating func phone(_ value: CommonV1.StringValue?, _ field: String) -> String? {
        guard let value else { return nil }
        let phone = value.value.trimmingCharacters(in: .whitespaces)
        let digits = phone.utf8.dropFirst()
        let valid = phone.hasPrefix("+") && (7...15).contains(digits.count) && digits.first != UInt8(ascii: "0")
            && digits.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        if !valid { add(field, "MALFORMED", "\(field) must be an E.164 number such as +919812345678") }
        return phone
    }

    /// Bounds a password that is checked, not set (a login, the current password): required, and
    /// at most 1024 bytes so that hashing it is bounded.
    mutating func presentedSecret(_ value: String, _ field: String) -> String {
        if value.isEmpty { add(field, "REQUIRED", "\(field) is required") }
        if value.utf8.count > 1024 { add(field, "TOO_LONG", "\(field) is longer than 1024 bytes") }
        return value
    }

    /// A password presented to be checked (a login, the current password): as
    /// ``presentedSecret(_:_:)``, and no longer than the policy allows any password to be
    /// (``PasswordPolicy/maximumLength``): such a one matches nothing, and is refused before it
    /// is hashed.
    mutating func presentedPassword(_ value: String, _ field: String) -> String {
        let value = presentedSecret(value, field)
        if value.utf8.count <= 1024, value.unicodeScalars.count > PasswordPolicy.maximumLength {
            add(field, "TOO_LONG", "\(field) is longer than any password can be (\(PasswordPolicy.maximumLength) characters)")
        }
        return value
    }

    /// Password policy, checked before anything is hashed or written.
    mutating func password(_ value: String, _ field: String, email: String) -> String {
        if value.isEmpty {
            add(field, "REQUIRED", "\(field) is required")
        } else if let weakness = PasswordPolicy.weakness(of: value, email: email) {
            add(field, "WEAK_PASSWORD", "\(field) \(weakness)")
        }
        return value
    }

    /// Organization metadata: at most 32 entries, keys of 1 to 64 of `[a-z0-9_.-]`, values up to 500 characters.
    mutating func metadata(_ value: [String: String], _ field: String) -> [String: String] {
        if value.count > 32 { add(field, "TOO_MANY", "\(field) has more than 32 entries") }
        for (key, entry) in value.sorted(by: { $0.key < $1.key }) {
            let plain = (1...64).contains(key.utf8.count) && key.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
            }
            if !plain { add("\(field).key", "MALFORMED", "metadata keys are 1 to 64 characters of a-z, 0-9, _, . and -") }
            _ = text(entry, "\(field)[\(plain ? key : "?")]", maximumLength: 500, required: false)
        }
        return value.mapValues { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// Permission names from the catalogue, without repeats.
    mutating func permissions(_ names: [String], _ field: String) -> Set<Permission> {
        if names.isEmpty { add(field, "REQUIRED", "\(field) needs at least one permission") }
        if names.count > Permission.allCases.count { add(field, "TOO_MANY", "\(field) lists more permissions than exist") }
        var permissions = Set<Permission>()
        for (index, name) in names.enumerated() {
            guard let permission = Permission(rawValue: name) else {
                add("\(field)[\(index)]", "UNKNOWN_VALUE", "not a permission of the catalogue")
                continue
            }
            permissions.insert(permission)
        }
        return permissions
    }

    /// Repeated enum filters: each a known, non-default value.
    mutating func knownList<E: ProtoEnum>(_ values: [E], _ field: String) -> [E] {
        if values.count > 16 { add(field, "TOO_MANY", "\(field) has more than 16 entries") }
        for (index, value) in values.enumerated() { _ = known(value, "\(field)[\(index)]") }
        return values
    }

    /// An optional text filter.
    mutating func optionalText(_ value: CommonV1.StringValue?, _ field: String, maximumLength: Int) -> String? {
        guard let value else { return nil }
        return text(value.value, field, maximumLength: maximumLength)
    }

    /// An optional wrapped UUID.
    mutating func optionalUUID(_ value: CommonV1.StringValue?, _ field: String) -> UUID? {
        guard let value else { return nil }
        return uuid(value.value, field)
    }
}

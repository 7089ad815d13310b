import KaroKarKernel

/// A vehicle's lifecycle (DOMAIN.md section 5): `PENDING -> ACTIVE`, `ACTIVE <-> SUSPENDED`,
/// any -> `RETIRED` (terminal). Pure rules; the database stores the raw values.
enum VehicleState: String, Sendable, CaseIterable {
    case pending = "PENDING"
    case active = "ACTIVE"
    case suspended = "SUSPENDED"
    case retired = "RETIRED"

    func activated() throws(DomainError) -> VehicleState {
        guard self == .pending else { throw FleetError.invalidTransition("VEHICLE", from: rawValue, action: "activate") }
        return .active
    }

    func retired() throws(DomainError) -> VehicleState {
        guard self != .retired else { throw FleetError.invalidTransition("VEHICLE", from: rawValue, action: "retire") }
        return .retired
    }

    /// Opening a suspension: active vehicles become suspended; already suspended ones stay so.
    func suspended() throws(DomainError) -> VehicleState {
        guard self == .active || self == .suspended else { throw FleetError.notActive() }
        return .suspended
    }

    /// After lifting a suspension: active again only when none is left open.
    func afterLift(openSuspensionsLeft: Bool) -> VehicleState {
        self == .suspended && !openSuspensionsLeft ? .active : self
    }

    /// Details can change until the vehicle retires.
    func checkEditable() throws(DomainError) {
        guard self != .retired else { throw FleetError.invalidTransition("VEHICLE", from: rawValue, action: "change") }
    }
}

/// Who may own what: vendors list VENDOR_OWNED vehicles, corporates own CORPORATE_OWNED ones.
enum Ownership: String, Sendable {
    case vendorOwned = "VENDOR_OWNED"
    case corporateOwned = "CORPORATE_OWNED"

    func fits(_ owner: TenantKind) -> Bool {
        switch self {
        case .vendorOwned: owner == .vendor
        case .corporateOwned: owner == .corporate
        }
    }
}

/// License plates are compared normalized: upper case, no spaces (DOMAIN.md section 5).
enum LicensePlate {
    static let maximumLength = 20

    /// nil when nothing usable is left: only letters, digits and dashes are allowed.
    static func normalized(_ text: String) -> String? {
        let plate = String(text.uppercased().filter { !$0.isWhitespace })
        guard (1...maximumLength).contains(plate.count),
              plate.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" })
        else { return nil }
        return plate
    }
}

/// Planned or running maintenance: `SCHEDULED -> IN_PROGRESS -> COMPLETED`, and
/// `SCHEDULED | IN_PROGRESS -> CANCELLED`.
enum MaintenanceState: String, Sendable, CaseIterable {
    case scheduled = "SCHEDULED"
    case inProgress = "IN_PROGRESS"
    case completed = "COMPLETED"
    case cancelled = "CANCELLED"

    func started() throws(DomainError) -> MaintenanceState {
        guard self == .scheduled else { throw FleetError.invalidTransition("MAINTENANCE", from: rawValue, action: "start") }
        return .inProgress
    }

    func completed() throws(DomainError) -> MaintenanceState {
        guard self == .inProgress else { throw FleetError.invalidTransition("MAINTENANCE", from: rawValue, action: "complete") }
        return .completed
    }

    func cancelled() throws(DomainError) -> MaintenanceState {
        guard self == .scheduled || self == .inProgress else {
            throw FleetError.invalidTransition("MAINTENANCE", from: rawValue, action: "cancel")
        }
        return .cancelled
    }

    /// Completing or cancelling releases the MAINTENANCE record.
    var holdsTheVehicle: Bool { self == .scheduled || self == .inProgress }
}

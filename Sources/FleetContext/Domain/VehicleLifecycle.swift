import Foundation
import KaroKarKernel

/// A vehicle (DOMAIN.md section 5): its owner, its details and where it stands in its lifecycle.
struct Vehicle: Sendable, Hashable, Codable {
    var id: UUID
    var organizationID: UUID
    var ownership: Ownership
    var make: String
    var model: String
    var year: Int32
    var licensePlate: String
    var status: VehicleState
    var version: Int64
    var createdAt: Instant
    var updatedAt: Instant

    var details: VehicleDetails {
        VehicleDetails(make: make, model: model, year: year, plate: licensePlate)
    }
}

/// A vehicle's lifecycle (DOMAIN.md section 5): `PENDING -> ACTIVE`, `ACTIVE <-> SUSPENDED`,
/// any -> `RETIRED` (terminal). Pure rules; the database stores the raw values.
enum VehicleState: String, Sendable, CaseIterable, Codable {
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
        guard isSuspendable else { throw FleetError.notActive() }
        return .suspended
    }

    /// Only active (or already suspended) vehicles take a suspension.
    var isSuspendable: Bool { self == .active || self == .suspended }

    /// After lifting a suspension: active again only when none is left open.
    func afterLift(openSuspensionsLeft: Bool) -> VehicleState {
        self == .suspended && !openSuspensionsLeft ? .active : self
    }

    /// Details, holds and documents can change until the vehicle retires.
    func checkEditable() throws(DomainError) {
        guard self != .retired else { throw FleetError.invalidTransition("VEHICLE", from: rawValue, action: "change") }
    }
}

/// Who may own what: vendors list VENDOR_OWNED vehicles, corporates own CORPORATE_OWNED ones.
enum Ownership: String, Sendable, CaseIterable, Codable {
    case vendorOwned = "VENDOR_OWNED"
    case corporateOwned = "CORPORATE_OWNED"

    func fits(_ owner: TenantKind) -> Bool {
        switch self {
        case .vendorOwned: owner == .vendor
        case .corporateOwned: owner == .corporate
        }
    }
}

/// Make, model, year and plate (normalized): what registration records and an update replaces.
struct VehicleDetails: Sendable, Hashable {
    var make: String
    var model: String
    var year: Int32
    var plate: String
}

/// An update of a vehicle's details: each field present replaces the vehicle's.
struct VehicleDetailsChange: Sendable, Hashable {
    var make: String?
    var model: String?
    var year: Int32?
    var plate: String?

    func applied(to details: VehicleDetails) -> VehicleDetails {
        VehicleDetails(make: make ?? details.make, model: model ?? details.model, year: year ?? details.year, plate: plate ?? details.plate)
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

/// Fleet's view of an organization that owns vehicles (kept from organization events).
struct Owner: Sendable, Hashable {
    var kind: TenantKind
    var status: TenantStatus

    var isActive: Bool { status == .active }
}

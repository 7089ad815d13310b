import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto

// Requests' values as domain values, parsed once at the edge.

extension Validation {
    /// A known, non-default enum value, as the domain enum of the same stored name.
    mutating func known<E: ProtoEnum, D: RawRepresentable & CaseIterable>(
        _ value: E, _ field: String, as _: D.Type
    ) -> D where D.RawValue == String {
        let value = known(value, field)
        if let domain = D(rawValue: value.storedName ?? "") { return domain }
        if !value.isProtoDefault, value.isKnown { add(field, "UNKNOWN_VALUE", "\(field) must be one of the documented values") }
        // What a refused value reads as (the request is refused as a whole at finish()).
        return D.allCases.first!
    }

    /// Make, model, year and plate, each validated when present (all are required to register).
    mutating func vehicleDetails(make: String?, model: String?, year: Int32?, plate: String?) -> VehicleDetailsChange {
        var change = VehicleDetailsChange()
        change.make = make.map { text($0, "make", maximumLength: 100) }
        change.model = model.map { text($0, "model", maximumLength: 100) }
        change.year = year.map { range($0, "year", 1900...2100) }
        if let plate {
            change.plate = LicensePlate.normalized(plate)
            if change.plate == nil {
                add("licensePlate", plate.isEmpty ? "REQUIRED" : "MALFORMED", "licensePlate must be 1 to 20 letters, digits or dashes")
            }
        }
        return change
    }

    /// Optional notes or reasons sent as a wrapper: trimmed, never required.
    mutating func optionalText(_ value: CommonV1.StringValue?, _ field: String, maximumLength: Int) -> String? {
        value.map { text($0.value, field, maximumLength: maximumLength, required: false) }
    }
}

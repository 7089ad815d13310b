public import KaroKarMessages

extension Validation {
    /// The version a mutating request says it read (DOMAIN.md section 2, "Concurrency"): absent,
    /// or 1 or more.
    public mutating func expectedVersion(_ value: CommonV1.Int64Value?, _ field: String = "expectedVersion") -> Int64? {
        guard let value else { return nil }
        if value.value < 1 { add(field, "OUT_OF_RANGE", "\(field) must be a version read from the server (1 or more)") }
        return value.value
    }
}

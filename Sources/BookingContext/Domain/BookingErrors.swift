import KaroKarKernel

/// The Booking context's stable domain codes.
enum BookingError {
    static func vehicleNotBookable() -> DomainError {
        .failedPrecondition("VEHICLE_NOT_BOOKABLE", "only ACTIVE vendor-owned vehicles of ACTIVE vendors can be booked")
    }

    static func organizationNotActive() -> DomainError {
        .failedPrecondition("ORGANIZATION_NOT_ACTIVE", "the caller's organization is not active")
    }

    static func corporatesOnly() -> DomainError {
        .permissionDenied("only corporate organizations book vehicles")
    }

    static func allocationExceeded(_ detail: String) -> DomainError {
        .failedPrecondition("ALLOCATION_EXCEEDED", detail)
    }

    static func employeeNotMember() -> DomainError {
        .failedPrecondition("EMPLOYEE_NOT_ACTIVE_MEMBER", "the employee must be an ACTIVE member of the booking's corporate")
    }

    static func requestExpired() -> DomainError {
        .failedPrecondition("BOOKING_REQUEST_EXPIRED", "the request waited past its expiry and is being cancelled")
    }

    static func adminActionReserved() -> DomainError {
        .permissionDenied("ADMIN_ACTION terminations are for platform administrators")
    }

    static func periodStarted() -> DomainError {
        .failedPrecondition("PERIOD_IN_PAST", "the booking's period must start in the future")
    }
}

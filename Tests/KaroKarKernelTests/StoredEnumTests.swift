import KaroKarKernel
import KaroKarMessages
import KaroKarProto
import Testing

/// Enums are stored as their value names without the enum's prefix, from a table per type.
@Suite("Stored enum spellings")
struct StoredEnumTests {
    @Test func everyValueRoundTripsThroughItsSpelling() {
        for value in FleetV1.AvailabilityStatus.protoValues where value.number != 0 {
            let status = FleetV1.AvailabilityStatus(rawValue: value.number)
            let stored = status.storedName
            #expect(stored.map { "AVAILABILITY_STATUS_" + $0 } == value.name)
            #expect(stored.flatMap(FleetV1.AvailabilityStatus.init(storedName:)) == status)
        }
        #expect(FleetV1.AvailabilityStatus.reserved.storedName == "RESERVED")
        #expect(FleetV1.AvailabilitySourceType.booking.storedName == "BOOKING", "each type has its own prefix")
    }

    @Test func theZeroValueAndUnknownSpellingsHaveNone() {
        #expect(FleetV1.AvailabilityStatus.unspecified.storedName == nil)
        #expect(FleetV1.AvailabilityStatus(rawValue: 999).storedName == nil)
        for spelling in ["UNSPECIFIED", "AVAILABILITY_STATUS_RESERVED", "reserved", "BOOKING", ""] {
            #expect(FleetV1.AvailabilityStatus(storedName: spelling) == nil, "\(spelling)")
        }
    }
}

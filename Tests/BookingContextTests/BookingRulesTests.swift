import Foundation
@testable import BookingContext
import KaroKarKernel
import Testing

/// The pure rules: DOMAIN.md's transition table on every (state, command) pair, and the
/// allocation's arithmetic.
@Suite("Booking rules: the state machine on every pair, the allocation's arithmetic")
struct BookingRulesTests {
    /// DOMAIN.md section 6, transcribed by hand (the state machine has its own copy).
    static let allowed: [BookingStatus: [BookingCommand: BookingStatus]] = [
        .draft: [.submit: .requested],
        .requested: [.approve: .approved, .reject: .rejected, .cancel: .cancelled],
        .approved: [.assign: .assigned, .cancel: .cancelled],
        .assigned: [.activate: .active, .cancel: .cancelled],
        .active: [.complete: .completed, .terminate: .terminated],
    ]

    static let pairs = BookingStatus.allCases.flatMap { status in BookingCommand.allCases.map { (status, $0) } }

    @Test("every (state, command) pair: allowed ones move as the table says, all others fail INVALID_BOOKING_TRANSITION", arguments: pairs)
    func transition(status: BookingStatus, command: BookingCommand) {
        let expected = Self.allowed[status]?[command]
        #expect(BookingStateMachine.next(from: status, command) == expected)
        if let expected {
            #expect((try? BookingStateMachine.checked(from: status, command)) == expected)
        } else {
            #expect { try BookingStateMachine.checked(from: status, command) } throws: { error in
                (error as? DomainError)?.domainCode == "INVALID_BOOKING_TRANSITION" && (error as? DomainError)?.rpcError.code == .failedPrecondition
            }
        }
    }

    @Test func terminalStatesAllowNothing() {
        for status in BookingStatus.allCases where status.isTerminal {
            #expect(BookingCommand.allCases.allSatisfy { BookingStateMachine.next(from: status, $0) == nil })
        }
        #expect(Set(BookingStatus.allCases.filter(\.isTerminal)) == [.rejected, .completed, .terminated, .cancelled])
    }

    static let july = Instant(microseconds: 1_814_400_000_000_000)  // 2027-07-01T00:00:00Z
    static func days(_ start: Double, _ end: Double) -> Period {
        Period(start: july.advanced(by: .seconds(start * 86_400)), end: july.advanced(by: .seconds(end * 86_400)))!
    }

    @Test func monthsAreUTCCalendarMonths() {
        let month = AllocationRules.month(of: Self.july.advanced(by: .seconds(86_400 * 10)))
        #expect(month.start == Self.july && month.end == Self.july.advanced(by: .seconds(31 * 86_400)))
        #expect(AllocationRules.months(touching: Self.days(30, 32)).count == 2)
        #expect(AllocationRules.days(of: Self.days(0, 1.1), in: month) == 2, "a started day counts")
        #expect(AllocationRules.days(of: Self.days(30, 32), in: month) == 1, "only the part inside the month")
    }

    private func allocation(_ active: Int64, _ days: Int64) -> Allocation {
        Allocation(corporateID: UUID(), employee: nil, maxActiveBookings: active, maxDaysPerMonth: days, version: 1, updatedAt: Self.july)
    }

    private func exceeded(_ body: () throws -> Void) -> Bool {
        do { try body(); return false } catch { return (error as? DomainError)?.domainCode == "ALLOCATION_EXCEEDED" }
    }

    @Test func allocationLimits() {
        #expect(exceeded { try AllocationRules.check(nil, others: [], new: Self.days(1, 2)) }, "never set: no self-booking")
        #expect(exceeded { try AllocationRules.check(allocation(0, 0), others: [], new: Self.days(1, 2)) }, "0: no self-booking")
        #expect(!exceeded { try AllocationRules.check(allocation(2, 0), others: [Self.days(5, 9)], new: Self.days(1, 2)) })
        #expect(exceeded { try AllocationRules.check(allocation(2, 0), others: [Self.days(5, 9), Self.days(10, 11)], new: Self.days(1, 2)) })
        #expect(!exceeded { try AllocationRules.check(allocation(5, 5), others: [Self.days(5, 8)], new: Self.days(1, 3)) }, "3 + 2 = 5 days")
        #expect(exceeded { try AllocationRules.check(allocation(5, 5), others: [Self.days(5, 8)], new: Self.days(1, 3.5)) }, "3 + 3 > 5")
        #expect(!exceeded { try AllocationRules.check(allocation(5, 5), others: [Self.days(5, 8)], new: Self.days(40, 44)) }, "another month")
    }

    @Test func theReturnsOdometerNeverGoesBack() {
        let handover = HandoverReading(odometerKm: 1000, fuelPercent: 50, conditionNotes: nil).recorded(by: UUID(), at: Self.july)
        #expect(throws: Never.self) { try HandoverReading(odometerKm: 1000, fuelPercent: 10, conditionNotes: nil).checkReturn(after: handover) }
        #expect { try HandoverReading(odometerKm: 999, fuelPercent: 10, conditionNotes: nil).checkReturn(after: handover) } throws: { error in
            (error as? DomainError)?.domainCode == "ODOMETER_BELOW_HANDOVER"
        }
    }
}

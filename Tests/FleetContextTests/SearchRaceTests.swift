@testable import FleetContext
import Testing

/// The race's one out-of-order turn: a walk whose rate of answers says its next step fills the
/// page goes again, once, instead of handing the turn to a rival that scans every interval.
@Suite struct SearchRaceTests {
    @Test func aWalkCloseToAFullPageGoesAgainOnce() {
        var bonus = true
        // 30 of 51 in the first 128 listings: 21 more expected in about 90 of the next 256.
        #expect(SearchStore.walkSettlesNext(found: 30, walked: 128, limit: 51, budget: 256, bonus: &bonus))
        #expect(!bonus)
        #expect(!SearchStore.walkSettlesNext(found: 49, walked: 384, limit: 51, budget: 512, bonus: &bonus))
    }

    @Test func aSparseOrEmptyWalkLeavesTheTurnToItsRival() {
        var bonus = true
        // 15 of 51 in 128: 36 more need about 307 listings, more than 3/4 of the next 256.
        #expect(!SearchStore.walkSettlesNext(found: 15, walked: 128, limit: 51, budget: 256, bonus: &bonus))
        #expect(!SearchStore.walkSettlesNext(found: 0, walked: 128, limit: 51, budget: 256, bonus: &bonus))
        #expect(!SearchStore.walkSettlesNext(found: 10, walked: 0, limit: 51, budget: 128, bonus: &bonus))
        #expect(bonus)
    }

    @Test func hugeFiguresDoNotTrap() {
        var bonus = true
        #expect(!SearchStore.walkSettlesNext(found: 1, walked: Int.max / 2, limit: Int.max, budget: 1 << 20, bonus: &bonus))
        #expect(SearchStore.walkSettlesNext(found: Int.max / 4, walked: Int.max / 2, limit: Int.max / 4 + 1, budget: Int.max, bonus: &bonus))
    }
}

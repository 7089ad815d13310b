/// A connection's calls in flight: call id to intended start (uptime nanoseconds).
///
/// Call ids go up by one per call and most calls end within a few hundred of their successors, so
/// a ring indexed by the id's low bits holds them with no hashing; a call still in flight when its
/// slot comes round again moves to a dictionary. Looked up twice per call by the load generator,
/// whose own cost per call must stay far below the server's.
struct PendingCalls {
    /// 0 marks a free slot (call ids start at 1).
    private var ids: [UInt32]
    private var starts: [UInt64]
    private var overflow: [UInt32: UInt64] = [:]
    private let mask: Int
    private(set) var count = 0

    /// `limit`: the calls the connection keeps in flight at most.
    init(limit: Int) {
        var size = 64
        while size < 4 * limit { size *= 2 }
        ids = Array(repeating: 0, count: size)
        starts = Array(repeating: 0, count: size)
        mask = size - 1
    }

    var isEmpty: Bool { count == 0 }

    /// Every intended start still pending.
    var values: [UInt64] {
        var result = Array(overflow.values)
        for slot in ids.indices where ids[slot] != 0 { result.append(starts[slot]) }
        return result
    }

    mutating func insert(_ callID: UInt32, intended: UInt64) {
        precondition(callID != 0, "call ids start at 1")
        let slot = Int(callID) & mask
        if ids[slot] != 0 { overflow[ids[slot]] = starts[slot] }  // an old call still in flight
        ids[slot] = callID
        starts[slot] = intended
        count += 1
    }

    /// The intended start of `callID`, which is no longer pending; nil when it was not.
    mutating func remove(_ callID: UInt32) -> UInt64? {
        let slot = Int(callID) & mask
        if callID != 0, ids[slot] == callID {
            ids[slot] = 0
            count -= 1
            return starts[slot]
        }
        guard let intended = overflow.removeValue(forKey: callID) else { return nil }
        count -= 1
        return intended
    }

    mutating func removeAll() {
        for slot in ids.indices { ids[slot] = 0 }
        overflow.removeAll()
        count = 0
    }
}

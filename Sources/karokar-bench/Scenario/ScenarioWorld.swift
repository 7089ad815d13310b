import Synchronization

/// The data a scenario builds as it runs (ids, names, signed-in principals), by collection, shared
/// by all workers; plus sequence numbers for setup and tallies for the report.
final class ScenarioWorld: Sendable {
    private let collections = Mutex<[String: [any Sendable]]>([:])
    private let sequences = Mutex<[String: Int]>([:])
    private let counts = Mutex<[String: Int]>([:])

    func add<Value: Sendable>(_ values: [Value], to collection: String) {
        collections.withLock { $0[collection, default: []].append(contentsOf: values.map { $0 as any Sendable }) }
    }

    func count(of collection: String) -> Int {
        collections.withLock { $0[collection]?.count ?? 0 }
    }

    /// A random member of the collection, or nil while it is empty (or holds other types).
    func pick<Value: Sendable>(from collection: String, as type: Value.Type = Value.self, using random: inout BenchRandom) -> Value? {
        let values = collections.withLock { $0[collection] ?? [] }
        return values.randomElement(using: &random) as? Value
    }

    /// The member at `index` in the order they were added, or nil past the end.
    func value<Value: Sendable>(at index: Int, in collection: String, as type: Value.Type = Value.self) -> Value? {
        collections.withLock { collections -> (any Sendable)? in
            guard let values = collections[collection], values.indices.contains(index) else { return nil }
            return values[index]
        } as? Value
    }

    /// Every member, in the order they were added.
    func values<Value: Sendable>(in collection: String, as type: Value.Type = Value.self) -> [Value] {
        collections.withLock { $0[collection] ?? [] }.compactMap { $0 as? Value }
    }

    /// Removes and returns the oldest member: setup phases hand out work the previous phase
    /// produced (an organization to approve, a vehicle to activate) once each.
    func take<Value: Sendable>(from collection: String, as type: Value.Type = Value.self) -> Value? {
        collections.withLock { collections -> (any Sendable)? in
            guard let first = collections[collection]?.first else { return nil }
            collections[collection]!.removeFirst()
            return first
        } as? Value
    }

    /// 0, 1, 2, ... per name, whichever worker asks: gives setup's entities their numbers.
    func next(_ sequence: String) -> Int {
        sequences.withLock { sequences in
            defer { sequences[sequence, default: 0] += 1 }
            return sequences[sequence, default: 0]
        }
    }

    /// Adds to a count reported with the run (vehicles found by searches, empty searches).
    func tally(_ name: String, _ amount: Int = 1) {
        counts.withLock { $0[name, default: 0] += amount }
    }

    var tallies: [String: Int] { counts.withLock { $0 } }
}

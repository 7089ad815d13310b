public import CProtoArena

/// A bump allocator for C messages, with a byte budget (see `CProtoArena.h`).
///
/// Only valid inside the closure of ``ProtoArena/with(budget:firstBlock:_:)``; generated code uses it
/// to build C messages for packing. Everything is freed at once when the closure returns.
public struct ProtoArena {
    @usableFromInline let raw: UnsafeMutablePointer<kk_arena>

    @usableFromInline
    init(_ raw: UnsafeMutablePointer<kk_arena>) {
        self.raw = raw
    }

    /// Runs `body` with an arena whose first `firstBlock` bytes come from the stack (Swift keeps
    /// temporary allocations on the stack only when they are small: keep it at 1 KiB or less).
    /// Inlinable, like the codec's entry points, so that callers get it specialized for their types.
    @inlinable
    public static func with<R>(
        budget: Int = Int.max, firstBlock: Int = 1024, _ body: (ProtoArena) throws -> R
    ) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: kk_arena.self, capacity: 1) { state in
            try withUnsafeTemporaryAllocation(byteCount: firstBlock, alignment: 16) { block in
                kk_arena_init(state.baseAddress!, block.baseAddress, block.count, budget)
                defer { kk_arena_destroy(state.baseAddress!) }
                return try body(ProtoArena(state.baseAddress!))
            }
        }
    }

    /// protobuf-c's allocator interface bound to this arena.
    var allocator: UnsafeMutablePointer<ProtobufCAllocator> {
        UnsafeMutableRawPointer(raw).assumingMemoryBound(to: ProtobufCAllocator.self)
    }

    /// True once a request was refused because of the budget.
    var isExhausted: Bool {
        raw.pointee.exhausted != 0
    }

    /// Bytes handed out so far.
    public var bytesUsed: Int {
        raw.pointee.used
    }

    /// Uninitialized storage for `count` values of `type`.
    @inlinable
    public func allocate<T>(_ type: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        let bytes = MemoryLayout<T>.stride * max(count, 1)
        guard let memory = kk_arena_alloc(raw, bytes) else {
            fatalError("ProtoArena: out of memory while encoding (\(bytes) bytes)")
        }
        return memory.bindMemory(to: T.self, capacity: max(count, 1))
    }

    /// A NUL-terminated copy of `string`. protobuf-c strings end at the first NUL.
    @inlinable
    public func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        var string = string
        return string.withUTF8 { utf8 in
            let out = allocate(CChar.self, count: utf8.count + 1)
            if let base = utf8.baseAddress {
                UnsafeMutableRawPointer(out).copyMemory(from: base, byteCount: utf8.count)
            }
            out[utf8.count] = 0
            return out
        }
    }

    /// A copy of `bytes` as protobuf-c binary data.
    @inlinable
    public func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else {
            return ProtobufCBinaryData(len: 0, data: nil)
        }
        let out = allocate(UInt8.self, count: bytes.count)
        bytes.withUnsafeBufferPointer { out.initialize(from: $0.baseAddress!, count: $0.count) }
        return ProtobufCBinaryData(len: bytes.count, data: out)
    }

    /// A C array holding `transform` of each element. (These helpers are inlinable so that each
    /// generated message gets them specialized: unspecialized, a repeated field cost a generic
    /// metadata lookup per element.)
    @inlinable
    public func array<S, C>(_ elements: [S], _ transform: (S) -> C) -> UnsafeMutablePointer<C> {
        let out = allocate(C.self, count: elements.count)
        for index in elements.indices {
            (out + index).initialize(to: transform(elements[index]))
        }
        return out
    }

    /// A C array of map entry messages, in key order so encoding is deterministic.
    @inlinable
    public func mapEntries<K: Comparable, V, E>(
        _ map: [K: V], as entryType: E.Type, _ fill: (K, V, UnsafeMutablePointer<E>) -> Void
    ) -> UnsafeMutablePointer<UnsafeMutablePointer<E>?> {
        let keys = map.keys.sorted()
        let out = allocate(UnsafeMutablePointer<E>?.self, count: keys.count)
        for index in keys.indices {
            let key = keys[index]
            let entry = allocate(E.self)
            fill(key, map[key]!, entry)
            (out + index).initialize(to: entry)
        }
        return out
    }
}

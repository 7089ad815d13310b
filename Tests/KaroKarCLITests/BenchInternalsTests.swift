@testable import karokar_bench
import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import NIOCore
import Testing

/// The load generator's per-call bookkeeping: what it sends must be a valid CALL, and no reply
/// may be matched to the wrong call, however long a call stays in flight.
@Suite("karokar-bench internals")
struct BenchInternalsTests {
    @Test func callFramesDecodeAsTheCallTheyDescribe() throws {
        let metadata = Metadata([("authorization", "Bearer abc"), ("x-extra", "1")])
        let writer = CallFrameWriter(path: "/karokar.rpc.v1.DiagnosticsService/Echo", timeout: .milliseconds(250), metadata: metadata)
        var out = ByteBuffer()
        let payloads: [[UInt8]] = [[], [1, 2, 3], Array(repeating: 7, count: 300)]
        for (index, payload) in payloads.enumerated() {
            writer.write(callID: UInt32(index + 1), payload: payload, into: &out)
        }
        var parser = FrameParser(maximumFrameBytes: 1 << 20)
        parser.append(out)
        for (index, payload) in payloads.enumerated() {
            let frame = try #require(try parser.next())
            #expect(frame.type == .call && frame.callID == UInt32(index + 1))
            let call = try ProtoCodec.decode(RPCV1.Call.self, from: Array(buffer: frame.body))
            #expect(call.method == "/karokar.rpc.v1.DiagnosticsService/Echo")
            #expect(call.timeoutMicros == 250_000)
            #expect(call.metadata.map(\.key) == ["authorization", "x-extra"])
            #expect(call.payload == payload)
        }
        #expect(try parser.next() == nil)
    }

    @Test func pendingCallsMatchEveryReplyToItsCall() {
        var pending = PendingCalls(limit: 4)  // a ring of 64 slots
        for id in UInt32(1)...10 { pending.insert(id, intended: UInt64(id) * 100) }
        #expect(pending.count == 10)
        #expect(pending.remove(3) == 300)
        #expect(pending.remove(3) == nil, "answered once")
        #expect(pending.remove(11) == nil, "never sent")
        for id in UInt32(4)...10 { #expect(pending.remove(id) == UInt64(id) * 100) }
        // Calls 1 and 2 stay in flight while their slots come round again (ids 65, 66, 129, 130).
        for id in UInt32(11)...200 {
            pending.insert(id, intended: UInt64(id) * 100)
            if id > 12 { #expect(pending.remove(id - 2) == UInt64(id - 2) * 100) }
        }
        #expect(pending.remove(1) == 100, "the long call is still found")
        #expect(pending.remove(2) == 200)
        #expect(Set(pending.values) == [19_900, 20_000])
        #expect(pending.count == 2)
        pending.removeAll()
        #expect(pending.isEmpty && pending.values.isEmpty && pending.remove(200) == nil)
    }
}

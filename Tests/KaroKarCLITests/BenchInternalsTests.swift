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

/// The pieces of schedules, time series and `compare`, without a server.
@Suite("karokar-bench schedules and comparisons, internals")
struct BenchScheduleInternalsTests {
    @Test func stepAndLineSchedulesListTheirStages() throws {
        let step = try ScheduleOptions.parse(["--load-schedule", "step", "--load-start", "10", "--load-step", "10", "--load-end", "25", "--load-step-duration", "2s"])
        let stages = try #require(try step.stages(concurrency: 8))
        #expect(stages.map(\.rate) == [10, 20, 25], "the end is a stage of its own when the steps miss it")
        #expect(stages.allSatisfy { $0.duration == .seconds(2) && $0.concurrency == 8 })
        let line = try ScheduleOptions.parse(["--concurrency-schedule", "line", "--concurrency-start", "8", "--concurrency-step=-2", "--concurrency-end", "2"])
        let counts = try #require(try line.stages(concurrency: 1))
        #expect(counts.map(\.concurrency) == [8, 6, 4, 2] && counts.allSatisfy { $0.rate == nil && $0.duration == .seconds(1) })
        #expect(try ScheduleOptions.parse([]).stages(concurrency: 4) == nil)
    }

    @Test func kneeVerdictNeedsP99UnderTheBoundAndNoFailure() {
        #expect(KneeVerdict.check(p99Nanoseconds: 4_999_999, failures: 0, requests: 10, bound: .milliseconds(5)) == nil)
        #expect(KneeVerdict.check(p99Nanoseconds: 5_000_000, failures: 0, requests: 10, bound: .milliseconds(5))?.contains("reached the bound") == true)
        #expect(KneeVerdict.check(p99Nanoseconds: 1, failures: 1, requests: 10, bound: .milliseconds(5)) == "1 of 10 calls failed")
        #expect(KneeVerdict.check(p99Nanoseconds: 0, failures: 0, requests: 0, bound: .milliseconds(5)) != nil)
    }

    @Test func timeSeriesStaysBoundedAndKeepsEveryCall() {
        var series = TimeSeries(origin: 1_000, width: 1_000_000)
        for index in 0..<10_000 { series.record(latency: UInt64(index), failed: index % 10 == 0, at: 1_000 + UInt64(index) * 1_000_000) }
        #expect(series.windows.count <= TimeSeries.maximumWindows)
        #expect(series.windows.reduce(0) { $0 + $1.calls } == 10_000 && series.windows.reduce(0) { $0 + $1.failures } == 1_000)
        var fine = TimeSeries(origin: 1_000, width: 1_000_000)
        fine.record(latency: 5, failed: false, at: 1_000)
        series.merge(fine)
        #expect(series.windows.reduce(0) { $0 + $1.calls } == 10_001 && series.windows[0].calls > 1)
        var histogram = CoarseHistogram()
        for value in 1...1000 { histogram.record(UInt64(value) * 1000) }
        let p99 = Double(histogram.value(atQuantile: 0.99))
        #expect(abs(p99 - 990_000) / 990_000 < 0.07, "coarse buckets are within about 6%: \(p99)")
    }

    @Test func compareJudgesByDirection() {
        let base: [(String, Double)] = [("rate", 1000), ("latencyMicros.p99", 100), ("concurrency", 8), ("load.steps.echo.latencyMicros.p99", 50)]
        let same = CompareCommand.compare(base, base, patterns: CompareCommand.defaultFigures, threshold: 0.1, checkedOnly: false)
        #expect(same.regressions.isEmpty)
        let slower: [(String, Double)] = [("rate", 850), ("latencyMicros.p99", 105), ("concurrency", 64), ("load.steps.echo.latencyMicros.p99", 80)]
        let judged = CompareCommand.compare(base, slower, patterns: CompareCommand.defaultFigures, threshold: 0.1, checkedOnly: false)
        #expect(judged.regressions == ["rate", "load.steps.echo.latencyMicros.p99"], "a rate is worse lower, a latency higher; settings are not judged")
        #expect(CompareCommand.matches("load.steps.search.latencyMicros.p99", "load.steps.*.latencyMicros.p99"))
        #expect(!CompareCommand.matches("load.steps.search.latencyMicros.p50", "load.steps.*.latencyMicros.p99"))
    }
}

import KaroKarMessages
import KaroKarRPC
import KaroKarToolSupport
import NIOCore
import NIOPosix

/// One load run: connect, handshake, warm up, measure, collect; the CPU time of this process
/// (and of the server, given its pid) is read at the start and the end of the measured part.
struct BenchRun {
    let plan: BenchPlan
    let group: any EventLoopGroup

    struct Connection {
        let channel: any Channel
        let handler: NIOLoopBound<LoadConnectionHandler>
        let done: EventLoopFuture<LoadStats>
    }

    func run(showProgress: Bool) async throws -> BenchResult {
        let idle = plan.idleConnections > 0
            ? try await IdleConnections.open(plan.idleConnections, to: plan.address, tls: plan.tls, group: group, serverPID: plan.serverPID) : nil
        let connections = try await connectAll()
        let start = LoadConnectionHandler.now() + 2_000_000
        let schedule = plan.schedule(start: start)
        let progress = showProgress ? ProgressLine.ifTerminal(measureFrom: schedule.measureFrom) : nil
        for (index, connection) in connections.enumerated() {
            let work = plan.work(connection: index, schedule: schedule)
            connection.channel.eventLoop.execute { connection.handler.value.begin(work, at: start) }
        }
        try await sleep(until: schedule.measureFrom)
        let cpuBefore = CPUTime.sample(serverPID: plan.serverPID)
        let stats = await collect(connections, progress: progress, schedule: schedule)
        let cpuAfter = CPUTime.sample(serverPID: plan.serverPID)
        for connection in connections { try? await connection.channel.close() }
        await idle?.close()
        return BenchResult(
            stats: stats, elapsedNanoseconds: stats.lastCompletion &- schedule.measureFrom, cpu: cpuAfter - cpuBefore,
            serverBytesPerIdleConnection: idle?.serverBytesPerConnection
        )
    }

    // MARK: - Connections

    private func connectAll() async throws -> [Connection] {
        var connections: [Connection] = []
        for _ in 0..<plan.connections {
            connections.append(try await connect())
        }
        return connections
    }

    private func connect() async throws -> Connection {
        let loop = group.next()
        let ready = loop.makePromise(of: RPCV1.HelloAck.self)
        let done = loop.makePromise(of: LoadStats.self)
        let channel: any Channel
        let handshake = loop.makePromise(of: Void.self)
        do {
            channel = try await ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(5))
                .channelInitializer { [plan] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(LoadConnectionHandler(ready: ready, done: done))
                        if let tls = plan.tls {
                            handshake.completeWith(try tls.addHandlers(to: channel, host: plan.address.host))
                        } else {
                            handshake.succeed()
                        }
                    }
                }
                .connect(host: plan.address.host, port: plan.address.port).get()
            try await handshake.futureResult.get()
        } catch {
            handshake.fail(error)
            ready.fail(error)
            done.fail(error)
            throw ToolError("cannot connect to \(plan.address): \(error)")
        }
        let ack = try await ready.futureResult.get()
        try plan.check(ack)
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: LoadConnectionHandler.self), eventLoop: channel.eventLoop)
        }.get()
        return Connection(channel: channel, handler: handler, done: done.futureResult)
    }

    // MARK: - Collecting

    private func collect(_ connections: [Connection], progress: ProgressLine?, schedule: LoadSchedule) async -> LoadStats {
        let reporter = progress.map { line in
            Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(500))
                    line.update(await snapshot(connections))
                }
            }
        }
        var total = LoadStats()
        for connection in connections {
            total.merge(await stats(of: connection, schedule: schedule))
        }
        reporter?.cancel()
        progress?.finish()
        return total
    }

    /// A connection's results; if it has not finished well after the run should have ended, it is
    /// closed, which counts its unanswered calls as CONNECTION_LOST.
    private func stats(of connection: Connection, schedule: LoadSchedule) async -> LoadStats {
        if case .at(let end) = schedule.stop {
            let limit = end &+ schedule.grace &+ 2_000_000_000
            connection.channel.eventLoop.scheduleTask(deadline: .uptimeNanoseconds(limit)) {
                connection.channel.close(promise: nil)
            }
        }
        return (try? await connection.done.get()) ?? LoadStats()
    }

    private func snapshot(_ connections: [Connection]) async -> (completed: Int, failed: Int) {
        var completed = 0, failed = 0
        for connection in connections {
            let progress = try? await connection.channel.eventLoop.submit { connection.handler.value.progress }.get()
            completed += progress?.completed ?? 0
            failed += progress?.failed ?? 0
        }
        return (completed, failed)
    }

    private func sleep(until uptime: UInt64) async throws {
        let now = LoadConnectionHandler.now()
        if uptime > now { try await Task.sleep(for: .nanoseconds(Int64(uptime - now))) }
    }
}

/// What a run measured.
struct BenchResult: Sendable {
    let stats: LoadStats
    let elapsedNanoseconds: UInt64
    let cpu: CPUTime
    /// With `--idle-connections` and `--server-pid`: the server's memory per idle connection.
    var serverBytesPerIdleConnection: Double?

    var seconds: Double { Double(elapsedNanoseconds) / 1e9 }
    var rate: Double { seconds > 0 ? Double(stats.requests) / seconds : 0 }
}

/// A run whose load changes: each stage is a run of its own (fresh connections, warm-up only
/// before the first), so an overloaded stage's backlog does not spill into the next stage. With
/// a knee bound, the first stage that breaks it (p99 at or above the bound, or any failure) is
/// the last one run.
struct StagedBench {
    let plan: BenchPlan
    let stages: [LoadStage]
    let bound: Duration?
    let group: any EventLoopGroup

    func run(showProgress: Bool) async throws -> BenchReport {
        var done: [StageResult] = []
        var verdict = bound.map { KneeVerdict(bound: $0) }
        for (index, stage) in stages.enumerated() {
            var stagePlan = plan
            stagePlan.rate = stage.rate
            stagePlan.concurrency = stage.concurrency
            stagePlan.connections = min(plan.connections, stage.concurrency)
            stagePlan.length = .duration(stage.duration)
            stagePlan.warmup = index == 0 ? plan.warmup : .zero
            stagePlan.idleConnections = index == 0 ? plan.idleConnections : 0
            let result = try await BenchRun(plan: stagePlan, group: group).run(showProgress: showProgress)
            done.append(StageResult(stage: stage, result: result))
            if let bound {
                let stats = result.stats
                if let reason = KneeVerdict.check(
                    p99Nanoseconds: stats.histogram.value(atQuantile: 0.99), failures: stats.failures, requests: stats.requests, bound: bound
                ) {
                    verdict?.brokenAt = stage.rate
                    verdict?.reason = reason
                    break
                }
                verdict?.knee = stage.rate
            }
        }
        var total = LoadStats()
        var elapsed: UInt64 = 0
        var cpu = CPUTime(loadGenerator: 0, server: plan.serverPID == nil ? nil : 0)
        for stage in done {
            var stats = stage.result.stats
            stats.series = nil
            total.merge(stats)
            elapsed += stage.result.elapsedNanoseconds
            cpu = cpu + stage.result.cpu
        }
        let result = BenchResult(stats: total, elapsedNanoseconds: elapsed, cpu: cpu, serverBytesPerIdleConnection: done.first?.result.serverBytesPerIdleConnection)
        return BenchReport(plan: plan, result: result, stages: done, knee: verdict)
    }
}

/// One stage of a staged run and what it measured.
struct StageResult: Sendable {
    let stage: LoadStage
    let result: BenchResult
}

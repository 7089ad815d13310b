import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarServer
import KaroKarTestSupport
import Testing

/// Notification keeping up (opt in; Deploy/bench-notification.sh): `booking.requested` events
/// published open loop by 16 publishers through the real server's bus, each notifying two
/// recipients (the vendor's admin and staff) in-app and by e-mail to a local SMTP server: by
/// default `SMTPSink` (SwiftNIO, in this process; `KAROKAR_NOTIFICATION_SMTP_SERVER=nio`), or
/// aiosmtpd (`=aiosmtpd`: Deploy/smtp-recorder.py, `KAROKAR_NOTIFICATION_SMTP_PROCESSES` processes
/// on one port), which costs ~0.5 ms of Python per message: two cores at the target's 4,000/s.
///
/// Settings (environment): `KAROKAR_NOTIFICATION_RATE` events per second offered,
/// `KAROKAR_NOTIFICATION_SECONDS` (default 60), `KAROKAR_NOTIFICATION_IN_FLIGHT` (sends one
/// process has going, default 64), `KAROKAR_NOTIFICATION_SMTP_CONNECTIONS` (the pool, default 8),
/// `KAROKAR_NOTIFICATION_SMTP_PROCESSES` (default 2), `KAROKAR_NOTIFICATION_HANDOFF` (the
/// handoff's capacity, `NotificationOptions.handoffCapacity`; 0 claims every delivery).
///
/// Prints one line: events offered and published per second; e-mails sent per second while
/// offered and overall; the e-mail delivery lag (sent_at minus the event's outbox recorded_at)
/// p50/p99/max, split into planning (the delivery written, in-app delivered: created_at minus
/// recorded_at) and sending (sent_at minus created_at); the PENDING e-mail backlog at the start,
/// middle and end of the offered period and its maximum; the WAL the cluster wrote per event
/// (until the last e-mail was SENT); the SMTP connections the server saw.
@Suite("Notification: keeping up (opt in)")
struct NotificationBenchmark {
    static let environment = ProcessInfo.processInfo.environment
    static let rate = Int(environment["KAROKAR_NOTIFICATION_RATE"] ?? "") ?? 0
    static let seconds = Int(environment["KAROKAR_NOTIFICATION_SECONDS"] ?? "") ?? 60
    static let inFlight = Int(environment["KAROKAR_NOTIFICATION_IN_FLIGHT"] ?? "") ?? 64
    static let connections = Int(environment["KAROKAR_NOTIFICATION_SMTP_CONNECTIONS"] ?? "") ?? 8
    static let smtpProcesses = Int(environment["KAROKAR_NOTIFICATION_SMTP_PROCESSES"] ?? "") ?? 2
    static let handoff = Int(environment["KAROKAR_NOTIFICATION_HANDOFF"] ?? "")
    static let useSink = (environment["KAROKAR_NOTIFICATION_SMTP_SERVER"] ?? "nio") != "aiosmtpd"

    /// The benchmark's SMTP server takes what the sender sends: each e-mail once, its Message-ID.
    @Test func theSinkReceivesEachEMailOnce() async throws {
        let sink = SMTPSink(subjectPrefix: "New booking request")
        try await NotificationWorld.run(sink: sink) { world in
            for _ in 0..<10 { try await world.bookingRequested() }
            #expect(try await world.waitUntil { sink.counts.matching >= 20 })
            try await Task.sleep(for: .milliseconds(300))
            let counts = sink.counts
            #expect(counts.matching == 20 && counts.distinctMessageIDs == 20, "\(counts)")
            let settled = try await world.waitUntil { try await world.sentEmails(of: "booking.requested") == 20 }
            let rows = try await world.sentEmails(of: "booking.requested")
            #expect(settled, "\(rows) SENT rows")
        }
    }

    @Test(.enabled(if: rate > 0)) func notificationKeepsUp() async throws {
        let sink = SMTPSink(subjectPrefix: "New booking request")
        let sinkPort = Self.useSink ? try await sink.start() : nil
        do {
            try await measure(sink: sink, sinkPort: sinkPort)
        } catch {
            await sink.stop()
            throw error
        }
        await sink.stop()
    }

    func measure(sink: SMTPSink, sinkPort: Int?) async throws {
        try await NotificationWorld.run(smtpArguments: ["--processes", "\(Self.smtpProcesses)"], { settings in
            if let sinkPort { settings.notification.smtp?.port = sinkPort }
            settings.notification.push = nil
            settings.notification.sms = nil
            settings.notification.maximumInFlight = Self.inFlight
            settings.notification.handoffCapacity = Self.handoff
            settings.notification.smtp?.maximumConnections = Self.connections
            settings.notification.smtp?.timeout = .seconds(5)
            settings.notification.lease = .seconds(60)
            settings.databasePoolSize = 20
        }) { world in
            let bus = world.market.server.application.bus!
            let vendor = world.vendor.id
            let publishers = 16
            let perPublisher = Self.rate * Self.seconds / publishers
            let interval = Duration.seconds(1) / (Double(Self.rate) / Double(publishers))
            // WAL written from here until the last e-mail is SENT, per event: the work's write
            // amplification (rows, index entries, updates), which the host's speed does not move.
            let walStart = try await world.pool.query("SELECT pg_current_wal_lsn()::text AS lsn").single().decode(String.self, "lsn")
            let started = ContinuousClock.now
            let startedAt = Date()
            let sampler = Task {
                var backlog: [Int] = []
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    let pending = (try? await world.pool.query("""
                        SELECT count(*)::int8 AS n FROM notification.deliveries WHERE status = 'PENDING' AND channel = 'EMAIL'
                        """).single().decode(Int.self, "n")) ?? -1
                    backlog.append(pending)
                }
                return backlog
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<publishers {
                    group.addTask {
                        for n in 0..<perPublisher {
                            try await Task.sleep(until: started + interval * n, clock: .continuous)
                            let booking = UUID.random().lowercasedString
                            try await bus.transaction(.system()) { work in
                                try await work.publish(EventDraft("booking.requested", aggregateType: "booking", aggregateID: booking, payload: .bookingRequested(.init(
                                    bookingId: booking, vehicleId: UUID.random().lowercasedString, vendorOrganizationId: vendor,
                                    corporateOrganizationId: UUID.random().lowercasedString,
                                    period: .init(start: .init(seconds: 1_814_400_000), end: .init(seconds: 1_814_486_400)),
                                    requestedBy: UUID.random().lowercasedString
                                ))))
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let published = ContinuousClock.now - started
            let publishedAt = Date()
            let offeredSeconds = Double(published.components.seconds) + Double(published.components.attoseconds) / 1e18
            let offered = perPublisher * publishers
            // Done when nothing is PENDING (the due index: cheap) and every e-mail is SENT (a
            // scan of the table: asked only then). Polling the scan itself, every 50 ms, took
            // about a third of a core from the run it measured.
            let deadline = ContinuousClock.now + .seconds(300)
            while ContinuousClock.now < deadline {
                let pending = try await world.pool.query("""
                    SELECT count(*)::int8 AS n FROM notification.deliveries WHERE status = 'PENDING'
                    """).single().decode(Int.self, "n")
                if pending == 0, try await world.pool.query("""
                    SELECT count(*)::int8 AS n FROM notification.deliveries WHERE channel = 'EMAIL' AND status = 'SENT'
                      AND event_type = 'booking.requested'
                    """).single().decode(Int.self, "n") >= offered * 2 {
                    break
                }
                try await Task.sleep(for: .milliseconds(250))
            }
            let walBytes = try await world.pool.query("""
                SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), \(walStart)::pg_lsn)::int8 AS bytes
                """).single().decode(Int.self, "bytes")
            if Self.environment["KAROKAR_NOTIFICATION_WAL_STATS"] == "1" {
                // Where that WAL went, by relation (pg_walinspect, PostgreSQL 15).
                _ = try await world.pool.query("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
                let rows = try await world.pool.query("""
                    SELECT coalesce(c.relname::text, r.resource_manager || ' (no relation)') AS relation,
                           sum(r.record_length)::int8 AS bytes, count(*)::int8 AS records
                    FROM pg_get_wal_records_info(\(walStart)::pg_lsn, pg_current_wal_flush_lsn()) AS r
                    LEFT JOIN pg_class AS c ON c.relfilenode = substring(r.block_ref FROM 'rel [0-9]+/[0-9]+/([0-9]+)')::oid
                    GROUP BY 1 ORDER BY 2 DESC LIMIT 25
                    """)
                for row in rows {
                    let bytes = try row.decode(Int.self, "bytes"), records = try row.decode(Int.self, "records")
                    print("notification bench WAL: \(try row.decode(String.self, "relation")) \(bytes / max(offered, 1)) bytes per event, \(records) records")
                }
            }
            sampler.cancel()
            let backlog = await sampler.value
            let figures = try await world.pool.query("""
                SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) AS p99,
                       max(lag) AS worst, count(*)::int8 AS sent,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY planning) AS plan50, percentile_cont(0.99) WITHIN GROUP (ORDER BY planning) AS plan99,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY sending) AS send50, percentile_cont(0.99) WITHIN GROUP (ORDER BY sending) AS send99,
                       count(*) FILTER (WHERE sent_at <= \(publishedAt.timeIntervalSince1970)::float8 * interval '1 second' + 'epoch'::timestamptz)::int8
                           AS sent_while_offered,
                       extract(epoch FROM max(sent_at) - \(startedAt.timeIntervalSince1970)::float8 * interval '1 second' - 'epoch'::timestamptz)::float8
                           AS drained
                FROM (SELECT extract(epoch FROM d.sent_at - o.recorded_at)::float8 AS lag,
                             extract(epoch FROM d.created_at - o.recorded_at)::float8 AS planning,
                             extract(epoch FROM d.sent_at - d.created_at)::float8 AS sending, d.sent_at
                      FROM notification.deliveries d JOIN karokar_events.outbox o ON o.event_id = d.event_id
                      WHERE d.channel = 'EMAIL' AND d.status = 'SENT' AND d.event_type = 'booking.requested') AS lags
                """).single()
            func number(_ name: String) throws -> String { String(format: "%.3f", try figures.decode(Double.self, name)) }
            let sent = try figures.decode(Int.self, "sent")
            let sentWhileOffered = try figures.decode(Int.self, "sent_while_offered")
            let drained = try figures.decode(Double.self, "drained")
            let offeredPerSecond = Double(offered) / offeredSeconds
            let offeredSamples = Array(backlog.prefix(Int(offeredSeconds.rounded(.down))))
            let middle = offeredSamples.isEmpty ? -1 : offeredSamples[offeredSamples.count / 2]
            print("""
                notification bench: offered \(offered) events (\(Self.rate)/s for \(Self.seconds) s; published at \
                \(String(format: "%.0f", offeredPerSecond))/s in \(String(format: "%.1f", offeredSeconds)) s), 2 e-mails + 2 in-app each; \
                e-mails sent \(sent) of \(offered * 2): \(String(format: "%.0f", Double(sentWhileOffered) / offeredSeconds))/s while offered, \
                \(String(format: "%.0f", Double(sent) / max(drained, 0.001)))/s overall (all sent \(String(format: "%.1f", drained)) s after the start); \
                e-mail lag p50 \(try number("p50")) s, p99 \(try number("p99")) s, max \(try number("worst")) s \
                (planning p50 \(try number("plan50")) / p99 \(try number("plan99")) s; sending p50 \(try number("send50")) / p99 \(try number("send99")) s); \
                backlog (PENDING e-mails) start \(offeredSamples.first ?? -1), middle \(middle), end of offer \(offeredSamples.last ?? -1), \
                max \(backlog.max() ?? -1); WAL \(walBytes / max(offered, 1)) bytes per event (the whole cluster's, until the last \
                e-mail was SENT); SMTP connections opened \(Self.useSink ? sink.counts.connections : world.smtp.connections) \
                (pool \(Self.connections), in flight \(Self.inFlight), \
                \(Self.useSink ? "the SwiftNIO sink" : "\(Self.smtpProcesses) aiosmtpd processes")); per second: \(backlog)
                """)
            if Self.useSink {
                // Each delivery reached the SMTP server once, with its own Message-ID.
                let received = sink.counts
                #expect(received.matching == offered * 2 && received.distinctMessageIDs == offered * 2,
                        "SMTP server: \(received.matching) booking requests, \(received.distinctMessageIDs) distinct Message-IDs, \(offered * 2) expected")
            }
        }
    }
}

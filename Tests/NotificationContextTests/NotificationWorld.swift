import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import NotificationContext
import Testing

/// The real server over TCP with real senders' peers: an SMTP server (aiosmtpd) and an HTTP
/// server for SMS and push; an ACTIVE vendor whose admin and a staff member sign in, and the
/// platform administrator. Retries are quick here (100 ms, doubling to 400 ms, 5 attempts).
struct NotificationWorld {
    let market: TestMarketplace
    let smtp: SMTPRecorder
    let http: HTTPRecorder
    let vendor: TestOrganization
    let staff: TestSession
    let platform: TestSession

    static func run(
        smtpArguments: [String] = [], clock: any WallClock = SystemClock(),
        _ configure: @escaping @Sendable (inout ServerSettings) -> Void = { _ in }, _ body: (NotificationWorld) async throws -> Void
    ) async throws {
        let smtp = try SMTPRecorder(arguments: smtpArguments)
        let http = HTTPRecorder()
        _ = try await http.start()
        do {
            try await TestMarketplace.run(clock: clock, { settings in
                Self.senders(&settings, smtp: smtp, http: http)
                configure(&settings)
            }) { market in
                let vendor = try await market.onboard(.vendor)
                var probe = ServerSettings()
                configure(&probe)
                try await settle(market.pool, sending: probe.notification.sending)
                let world = NotificationWorld(
                    market: market, smtp: smtp, http: http, vendor: vendor,
                    staff: try await market.member(of: vendor, role: "VENDOR_STAFF"), platform: try await market.platformAdmin()
                )
                try await body(world)
            }
        } catch {
            smtp.stop()
            await http.stop()
            throw error
        }
        smtp.stop()
        await http.stop()
    }

    /// Waits until the onboarding's own notification (organization.approved, to the vendor's
    /// admin) is planned and, when the senders run, sent: a test's SMTP behaviour (a hanging
    /// mailbox) must not meet it.
    static func settle(_ pool: PostgresPool, sending: Bool) async throws {
        // Returns as soon as it holds; the bound is for a machine running every suite at once.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let row = try await pool.query("""
                SELECT count(*) FILTER (WHERE event_type = 'organization.approved' AND channel = 'EMAIL' AND status <> 'PENDING')::int8 AS done,
                       count(*) FILTER (WHERE status = 'PENDING')::int8 AS pending
                FROM notification.deliveries
                """).single()
            if try row.decode(Int.self, "done") > 0, try row.decode(Int.self, "pending") == 0 { return }
            if !sending, try row.decode(Int.self, "pending") > 0 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the onboarding's notifications were not sent within 60 s")
    }

    static func senders(_ settings: inout ServerSettings, smtp: SMTPRecorder, http: HTTPRecorder) {
        var mail = SMTPConfiguration(host: "127.0.0.1", port: smtp.port, from: "notifications@karokar.test")
        mail.timeout = .milliseconds(1500)
        mail.messageIDDomain = "karokar.test"
        settings.notification.smtp = mail
        var push = HTTPChannelConfiguration(url: http.url("push"))
        push.authentication = .bearer("push-token")
        push.timeout = .seconds(2)
        settings.notification.push = push
        var sms = HTTPChannelConfiguration(url: http.url("sms"))
        sms.authentication = .hmac("sms-secret")
        sms.timeout = .seconds(2)
        settings.notification.sms = sms
        settings.notification.pollInterval = .milliseconds(50)
        settings.notification.firstRetryDelay = .milliseconds(100)
        settings.notification.maximumRetryDelay = .milliseconds(400)
        settings.notification.maximumAttempts = 5
        settings.notification.lease = .seconds(10)
    }

    /// A world whose e-mail goes to `sink` (SwiftNIO, in this process), e-mail the only sending
    /// channel, with a 30-s SMTP timeout (the world's 1.5 s is for the failure tests; with every
    /// suite running a reply can take longer, and a timed-out message is sent again); `configure`
    /// adds settings. The sink is stopped when `body` ends, however it ends.
    static func run(
        sink: SMTPSink, _ configure: @escaping @Sendable (inout ServerSettings) -> Void = { _ in },
        _ body: (NotificationWorld) async throws -> Void
    ) async throws {
        let port = try await sink.start()
        do {
            try await run({ settings in
                settings.notification.smtp?.port = port
                settings.notification.smtp?.timeout = .seconds(30)
                settings.notification.push = nil
                settings.notification.sms = nil
                configure(&settings)
            }, body)
        } catch {
            await sink.stop()
            throw error
        }
        await sink.stop()
    }

    var pool: PostgresPool { market.pool }

    /// The e-mail deliveries of `eventType` recorded SENT.
    func sentEmails(of eventType: String) async throws -> Int {
        try await pool.query("""
            SELECT count(*)::int8 AS n FROM notification.deliveries
            WHERE channel = 'EMAIL' AND status = 'SENT' AND event_type = \(eventType)
            """).single().decode(Int.self, "n")
    }
    var notifications: NotificationV1.NotificationService.Client { NotificationV1.NotificationService.Client(market.client) }

    func email(of user: String) async throws -> String {
        try await pool.query("SELECT email FROM identity.users WHERE id = \(UUID(uuidString: user)!)").single().decode(String.self, "email")
    }

    /// Publishes `booking.requested` for a booking of the vendor through the server's own event
    /// bus (what Booking does on SubmitBooking); returns the event's id.
    @discardableResult
    func bookingRequested(vendor: String? = nil, vehicle: String = UUID().uuidString.lowercased()) async throws -> String {
        let booking = UUID().uuidString.lowercased()
        let payload = EventsV1.BookingRequested(
            bookingId: booking, vehicleId: vehicle, vendorOrganizationId: vendor ?? self.vendor.id,
            corporateOrganizationId: UUID().uuidString.lowercased(),
            period: CommonV1.Period(start: .init(seconds: 1_814_400_000), end: .init(seconds: 1_814_400_000 + 3 * 86_400)),
            requestedBy: UUID().uuidString.lowercased(), submittedBy: UUID().uuidString.lowercased()
        )
        let bus = market.server.application.bus!
        let envelope = try await bus.transaction(.system()) { work in
            try await work.publish(EventDraft("booking.requested", aggregateType: "booking", aggregateID: booking, payload: .bookingRequested(payload)))
        }
        return envelope.eventId
    }

    struct Row: Sendable {
        var recipient: String
        var channel: String
        var status: String
        var attempts: Int
        var lastError: String?
        var id: String
    }

    func deliveries(of event: String) async throws -> [Row] {
        try await pool.query("""
            SELECT id, recipient_user_id, channel, status, attempts, last_error FROM notification.deliveries
            WHERE event_id = \(UUID(uuidString: event)!) ORDER BY recipient_user_id, channel
            """).map { row in
            Row(
                recipient: try row.decode(UUID.self, "recipient_user_id").uuidString.lowercased(), channel: try row.decode(String.self, "channel"),
                status: try row.decode(String.self, "status"), attempts: try row.decode(Int.self, "attempts"),
                lastError: try row.decode(String?.self, "last_error"), id: try row.decode(UUID.self, "id").uuidString.lowercased()
            )
        }
    }

    /// Polls until `done` holds, for at most `seconds`; returns whether it did.
    @discardableResult
    func waitUntil(seconds: Double = 60, _ done: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await done() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await done()
    }
}

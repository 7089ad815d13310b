import Foundation
import KaroKarKernel
import Mustache
@testable import KaroKarServer
@testable import NotificationContext
import Testing

/// Every rule's template renders (name, entity, no leftover tags, a link-free one-line SMS), and
/// the senders' settings are validated (secrets never from a flag).
struct TemplateAndSettingsTests {
    @Test func everyRuleHasATemplateThatRenders() throws {
        let recipient = RecipientFacts(
            userID: UUID(), organizationID: UUID(), firstName: "Meera", lastName: "Iyer", email: "meera@example.com", phone: "+919800000000",
            isReachable: true
        )
        let facts = [
            "bookingId": "b-1", "vehicleId": "v-1", "assignmentId": "a-1", "organizationId": "o-1", "verificationId": "ver-1",
            "period": "2027-07-01 00:00 UTC to 2027-07-03 00:00 UTC", "reason": "accident", "notes": "call us", "subjectKind": "vehicle",
            "subjectId": "v-1", "verificationType": "insurance", "expiredAt": "2027-07-01 00:00 UTC", "expiresAt": "2028-01-01 00:00 UTC",
        ]
        #expect(NotificationRules.all.count >= 13)
        for rule in NotificationRules.all {
            let rendered = try #require(TemplateRenderer.render(rule.template, recipient: recipient, facts: facts), "\(rule.template)")
            #expect(rendered.body.hasPrefix("Hello Meera,"), "\(rule.template)")
            for text in [rendered.title, rendered.body, rendered.short] {
                #expect(!text.contains("{{") && !text.contains("}}") && !text.isEmpty, "\(rule.template): \(text)")
            }
            #expect(!rendered.short.contains("http") && !rendered.short.contains("\n") && rendered.short.count <= 320, "\(rule.template)")
            // The entity is named.
            let entity = facts[rule.subjectFact] ?? ""
            #expect((rendered.title + rendered.body).contains(entity) || rule.subjectType == "verification", "\(rule.template)")
        }
        // Event text cannot break out of a header line or get HTML-escaped.
        let hostile = TemplateRenderer.render(
            "booking_rejected", recipient: recipient, facts: ["bookingId": "b\r\nBcc: x@evil.test", "reason": "<b>&</b>"]
        )!
        #expect(!hostile.title.contains("\r") && !hostile.title.contains("\n") && hostile.short.contains("<b>&</b>"))
    }

    /// Titles and SMS: control characters become spaces and spaces at the ends go, exactly as
    /// Foundation's general category and trimming would do (the form it replaced), for random
    /// text mixing ASCII, controls (C0, DEL, C1), Unicode spaces, combining marks and emoji.
    @Test func oneLineReplacesControlsAndTrimsAsFoundationWould() {
        func reference(_ text: String) -> String {
            String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
                .trimmingCharacters(in: .whitespaces)
        }
        #expect(TemplateRenderer.oneLine("  a\r\nb\tc\u{85}d\u{2003} ") == "a  b c d")
        let alphabet: [Unicode.Scalar] = ["a", "Z", " ", "\t", "\r", "\n", "\u{0}", "\u{7F}", "\u{9F}", "\u{A0}", "\u{2003}", "\u{3000}",
                                          "\u{301}", "\u{1F697}", "é", "\u{200B}", "\u{2028}", "\u{FEFF}"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...12, using: &generator) { scalars.append(alphabet.randomElement(using: &generator)!) }
            let text = String(scalars)
            #expect(TemplateRenderer.oneLine(text) == reference(text), "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
        }
    }

    /// Header values: controls become spaces exactly as Foundation's general category says (the
    /// form the ASCII fast path and the scalar loop replaced), and a display name is that, trimmed
    /// of Foundation's whitespace set, for random text of the same mix.
    @Test func headerValuesReplaceControlsAsFoundationWould() {
        func reference(_ text: String) -> String {
            String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
        }
        #expect(SMTPClient.headerValue("Booking b-1 approved") == "Booking b-1 approved")
        #expect(SMTPClient.mailbox(" Meera\r\n ", "m@example.com") == "\"Meera\" <m@example.com>")
        let alphabet: [Unicode.Scalar] = ["a", "Z", " ", "\t", "\r", "\n", "\u{0}", "\u{1F}", "\u{7F}", "\u{80}", "\u{9F}", "\u{A0}",
                                          "\u{2003}", "\u{3000}", "\u{301}", "\u{1F697}", "é", "\u{200B}", "\"", "\\"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...12, using: &generator) { scalars.append(alphabet.randomElement(using: &generator)!) }
            let text = String(scalars)
            let codes = text.unicodeScalars.map { String($0.value, radix: 16) }
            #expect(SMTPClient.headerValue(text) == reference(text), "\(codes)")
            let name = reference(text).trimmingCharacters(in: .whitespaces)
            let expected = name.isEmpty ? "<m@example.com>"
                : name.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F })
                ? "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\" <m@example.com>"
                : "=?UTF-8?B?\(Data(name.utf8).base64EncodedString())?= <m@example.com>"
            #expect(SMTPClient.mailbox(text, "m@example.com") == expected, "\(codes)")
        }
    }

    /// An event's recipients rendered together get what each would get alone (a title or short
    /// text naming no recipient is rendered once for all), for every rule's template.
    @Test func renderingRecipientsTogetherEqualsRenderingEachAlone() throws {
        let people = [("Meera", "Iyer"), ("Arjun", "Rao"), ("Zoë\u{301}", "Ng {{x}}")].map { first, last in
            RecipientFacts(
                userID: UUID(), organizationID: UUID(), firstName: first, lastName: last, email: "x@example.com", phone: nil,
                isReachable: true
            )
        }
        let facts = [
            "bookingId": "b-1", "vehicleId": "v-1", "assignmentId": "a-1", "organizationId": "o-1", "verificationId": "ver-1",
            "period": "2027-07-01 00:00 UTC to 2027-07-03 00:00 UTC", "reason": "accident", "notes": "call us", "subjectKind": "vehicle",
            "subjectId": "v-1", "verificationType": "insurance", "expiredAt": "2027-07-01 00:00 UTC", "expiresAt": "2028-01-01 00:00 UTC",
        ]
        // The rules' templates, and one whose title and short text name the recipient.
        let personal = try TemplateRenderer.Parsed(MessageTemplate(
            title: "For {{recipient.firstName}}: {{bookingId}}", body: "Hello {{recipient.lastName}}", short: "{{#recipient}}{{firstName}}{{/recipient}}"
        ))
        #expect(personal.titleIsPersonal && personal.shortIsPersonal)
        let templates = TemplateRenderer.parsed.sorted(by: { $0.key < $1.key }) + [("personal", personal)]
        for (name, template) in templates {
            let together = TemplateRenderer.render(template, recipients: people, facts: facts)
            if name != "personal" { #expect(TemplateRenderer.render(name, recipients: people, facts: facts) == together) }
            // Each alone, every part rendered with the recipient in the context.
            let alone = people.map { person in
                var context: [String: Any] = facts
                context["recipient"] = ["firstName": person.firstName, "lastName": person.lastName]
                return TemplateRenderer.Rendered(
                    title: TemplateRenderer.oneLine(template.title.render(context)), body: template.body.render(context),
                    short: TemplateRenderer.oneLine(template.short.render(context))
                )
            }
            #expect(together == alone, "\(name)")
        }
        #expect(TemplateRenderer.parsed.values.contains { !$0.titleIsPersonal })
        #expect(TemplateRenderer.render("nope", recipients: people, facts: facts) == nil)
    }

    /// DATA's body in one pass over its bytes gives what the line-splitting form gave (kept here
    /// as the reference) for random bodies of dots, CR, LF, CRLF, long lines and non-ASCII.
    @Test func mailBodyMatchesTheLineByLineForm() {
        func reference(_ message: String) -> String? {
            let body = message.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            guard body.utf8.allSatisfy({ $0 < 0x80 }) && body.split(separator: "\n").allSatisfy({ $0.utf8.count <= 998 }) else { return nil }
            return body.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasPrefix(".") ? "." + $0 : String($0) }
                .joined(separator: "\r\n")
        }
        let pieces = ["a", ".", "..", "\r", "\n", "\r\n", "\n\r", " ", "é", String(repeating: "x", count: 400), "ok.", "\r\n."]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3_000 {
            let body = (0..<Int.random(in: 0...8, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            #expect(SMTPClient.asciiText(body) == reference(body), "\(Array(body.utf8))")
        }
        let edge = String(repeating: "y", count: 998)
        #expect(SMTPClient.asciiText(edge) == edge && SMTPClient.asciiText(edge + "y") == nil)
    }

    @Test func mailIsDotStuffedAndHeadersStayOnOneLine() {
        let configuration = SMTPConfiguration(host: "127.0.0.1", from: "n@karokar.test")
        let data = SMTPClient.data(of: MailMessage(
            messageID: "id@karokar.test", to: "a@example.com", toName: "A \"B\"", subject: "Hi\r\nBcc: x@evil.test", body: ".hidden\nline\n."
        ), configuration: configuration)
        #expect(data.contains("\r\n..hidden\r\nline\r\n..\r\n.\r\n"))
        #expect(data.contains("Subject: Hi  Bcc: x@evil.test\r\n") && !data.contains("\r\nBcc:"))
        #expect(data.contains("To: \"A \\\"B\\\"\" <a@example.com>\r\n") && data.contains("Message-ID: <id@karokar.test>\r\n"))
        let unicode = SMTPClient.data(of: MailMessage(messageID: "i@k", to: "a@example.com", toName: "Zoë", subject: "Résumé", body: "naïve"), configuration: configuration)
        #expect(unicode.contains("Subject: =?UTF-8?B?") && unicode.contains("Content-Transfer-Encoding: base64"))
        #expect(!SMTPClient.isAddress("a@b>\r\nRCPT TO:<c@d") && SMTPClient.isAddress("a.b+c@example.com"))
    }

    @Test func backoffDoublesWithJitterAndACap() {
        var options = NotificationOptions()
        options.firstRetryDelay = .seconds(1)
        options.maximumRetryDelay = .seconds(10)
        #expect(options.retryDelay(afterAttempts: 1, random: 1) == .seconds(1))
        #expect(options.retryDelay(afterAttempts: 3, random: 1) == .seconds(4))
        #expect(options.retryDelay(afterAttempts: 3, random: 0) == .seconds(2))
        #expect(options.retryDelay(afterAttempts: 60, random: 1) == .seconds(10))
    }

    @Test func sendersSettings() throws {
        func resolve(flags: [String: String] = [:], environment: [String: String] = [:], files: [String: String] = [:]) throws -> ServerSettings {
            try ServerSettings.resolve(flags: flags, environment: environment, configFile: nil) { path in
                guard let text = files[path] else { throw RecorderError(description: "no file") }
                return Array(text.utf8)
            }
        }
        // Nothing configured: no e-mail, SMS nor push.
        let none = try resolve()
        #expect(none.notification.smtp == nil && none.notification.sms == nil && none.notification.push == nil)
        // When the senders count as behind: 1 s by default, in milliseconds, within its bounds.
        #expect(none.notification.behindAfter == .seconds(1))
        #expect(try resolve(flags: ["notification-behind-after-ms": "2500"]).notification.behindAfter == .milliseconds(2500))
        for wrong in ["-1", "3600001", "soon", "99999999999999999999"] {
            #expect(throws: ServerSettings.Invalid.self, "\(wrong)") { _ = try resolve(flags: ["notification-behind-after-ms": wrong]) }
        }
        // A secret given as a flag is refused; from the environment or a file it is taken.
        #expect(throws: ServerSettings.Invalid.self) {
            _ = try resolve(flags: ["notification-smtp-host": "mail", "notification-smtp-username": "u", "notification-smtp-password": "p"])
        }
        let fromEnvironment = try resolve(
            flags: ["notification-smtp-host": "mail", "notification-smtp-username": "u"],
            environment: ["KAROKAR_NOTIFICATION_SMTP_PASSWORD": "p", "KAROKAR_NOTIFICATION_SMS_URL": "https://sms.example/send",
                          "KAROKAR_NOTIFICATION_SMS_AUTH": "hmac", "KAROKAR_NOTIFICATION_SMS_SECRET": "s"],
            files: [:]
        )
        #expect(fromEnvironment.notification.smtp?.authentication == .password(username: "u", password: "p"))
        #expect(fromEnvironment.notification.sms?.authentication == .hmac("s"))
        #expect(throws: ServerSettings.Invalid.self) { _ = try resolve(environment: ["KAROKAR_NOTIFICATION_SMS_URL": "https://sms.example/send"]) }
        let fromFile = try resolve(
            environment: ["KAROKAR_NOTIFICATION_PUSH_URL": "https://push.example/send", "KAROKAR_NOTIFICATION_PUSH_SECRET_FILE": "/run/push"],
            files: ["/run/push": "token\n"]
        )
        #expect(fromFile.notification.push?.authentication == .bearer("token"))
        let tls = try resolve(flags: ["notification-smtp-host": "mail", "notification-smtp-starttls": "true"])
        #expect(tls.notification.smtp?.security == .startTLS(trustRootsFile: nil))
        let pinned = try resolve(flags: ["notification-smtp-host": "mail", "notification-smtp-ca-file": "/etc/ca.pem"])
        #expect(pinned.notification.smtp?.security == .startTLS(trustRootsFile: "/etc/ca.pem"))
        // Implicit TLS (SMTPS), with or without a CA file; not together with STARTTLS.
        let smtps = try resolve(flags: ["notification-smtp-host": "mail", "notification-smtp-port": "465", "notification-smtp-implicit-tls": "true"])
        #expect(smtps.notification.smtp?.security == .implicitTLS(trustRootsFile: nil))
        let pinnedSMTPS = try resolve(flags: [
            "notification-smtp-host": "mail", "notification-smtp-ca-file": "/etc/ca.pem", "notification-smtp-implicit-tls": "true",
        ])
        #expect(pinnedSMTPS.notification.smtp?.security == .implicitTLS(trustRootsFile: "/etc/ca.pem"))
        #expect(throws: ServerSettings.Invalid.self) {
            _ = try resolve(flags: ["notification-smtp-host": "mail", "notification-smtp-implicit-tls": "true", "notification-smtp-starttls": "true"])
        }
        #expect(throws: ServerSettings.Invalid.self) { _ = try resolve(flags: ["notification-smtp-implicit-tls": "yes"]) }
        // Direct dispatch: 16 x in flight unless set; 0 turns it off; not a number is refused.
        #expect(none.notification.handoffCapacity == nil)
        #expect(try resolve(flags: ["notification-handoff": "0"]).notification.handoffCapacity == 0)
        #expect(try resolve(environment: ["KAROKAR_NOTIFICATION_HANDOFF": "200"]).notification.handoffCapacity == 200)
        #expect(throws: ServerSettings.Invalid.self) { _ = try resolve(flags: ["notification-handoff": "-1"]) }
        #expect(throws: ServerSettings.Invalid.self) { _ = try resolve(flags: ["notification-handoff": "many"]) }
        // The connection pool and retention.
        let pooled = try resolve(flags: [
            "notification-smtp-host": "mail", "notification-smtp-connections": "3", "notification-smtp-idle-s": "10",
            "notification-smtp-max-messages-per-connection": "50", "notification-retention-days": "7",
            "notification-retention-sweep-interval-s": "60", "notification-retention-batch-size": "200",
        ])
        #expect(pooled.notification.smtp?.maximumConnections == 3 && pooled.notification.smtp?.idleTimeout == .seconds(10))
        #expect(pooled.notification.smtp?.maximumMessagesPerConnection == 50)
        #expect(pooled.notification.retention == .seconds(7 * 86_400) && pooled.notification.retentionSweepInterval == .seconds(60))
        #expect(pooled.notification.retentionBatchSize == 200)
        #expect(none.notification.retention == .seconds(30 * 86_400))
        let forever = try resolve(flags: ["notification-retention-days": "0", "notification-retention-sweep-interval-s": "0"])
        #expect(forever.notification.retention == nil && forever.notification.retentionSweepInterval == nil)
        #expect(throws: ServerSettings.Invalid.self) { _ = try resolve(flags: ["notification-smtp-connections": "0"]) }
        #expect(throws: ServerSettings.Invalid.self) { _ = try resolve(flags: ["notification-retention-days": "-1"]) }
        #expect(throws: ServerSettings.Invalid.self) { _ = try resolve(flags: ["notification-smtp-port": "70000"]) }
        #expect(throws: ServerSettings.Invalid.self) { _ = try resolve(flags: ["notification-smtp-from": "not an address"]) }
        #expect(throws: ServerSettings.Invalid.self) { _ = try resolve(flags: ["notification-sms-url": "ftp://x"]) }
    }
}

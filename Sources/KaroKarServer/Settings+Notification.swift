import Foundation
import NotificationContext

/// The Notification context's settings: the senders (SMTP, the SMS and push endpoints) and their
/// retries (Sources/NotificationContext/README.md). Secrets (the SMTP password, the endpoints'
/// tokens) come from the environment or a `-file` setting, never from a flag (a flag shows in
/// `ps`).
extension ServerSettings {
    static let notificationSpecs: [SettingSpec] = [
        SettingSpec(name: "notification-sending", help: "this process sends due deliveries (true or false; false: it only plans them)", defaultValue: "true"),
        SettingSpec(name: "notification-poll-interval-ms", help: "how often an idle sender looks for due deliveries", defaultValue: "250"),
        SettingSpec(name: "notification-max-in-flight", help: "deliveries one process sends at once", defaultValue: "32"),
        SettingSpec(name: "notification-handoff", help: "deliveries planning may hand straight to this process's senders at commit, waiting at most (0: every delivery is claimed; empty: 16 x notification-max-in-flight)", defaultValue: ""),
        SettingSpec(name: "notification-behind-after-ms", help: "the senders are behind (new deliveries queue behind the backlog instead of being handed over) while claims come back full of deliveries due longer than this", defaultValue: "1000"),
        SettingSpec(name: "notification-max-attempts", help: "attempts of a delivery before it is FAILED", defaultValue: "8"),
        SettingSpec(name: "notification-retry-delay-ms", help: "backoff before a delivery's second attempt (doubles per attempt, with jitter)", defaultValue: "5000"),
        SettingSpec(name: "notification-max-retry-delay-s", help: "the longest backoff between two attempts", defaultValue: "900"),
        SettingSpec(name: "notification-lease-s", help: "a claimed delivery whose sender died is due again after this", defaultValue: "60"),
        SettingSpec(name: "notification-retention-days", help: "SENT and SKIPPED deliveries (in-app messages once read) are deleted this many days after they were made (0 = kept for ever; FAILED and unread stay)", defaultValue: "30"),
        SettingSpec(name: "notification-retention-sweep-interval-s", help: "seconds between delivery retention sweeps (0 = never)", defaultValue: "3600"),
        SettingSpec(name: "notification-retention-batch-size", help: "deliveries one retention statement deletes at most (a sweep repeats until none is left)", defaultValue: "1000"),
        SettingSpec(name: "notification-smtp-host", help: "SMTP relay for e-mail (empty: no e-mail deliveries)", defaultValue: ""),
        SettingSpec(name: "notification-smtp-port", help: "its port", defaultValue: "25"),
        SettingSpec(name: "notification-smtp-from", help: "the sender address of notifications", defaultValue: "notifications@karokar.local"),
        SettingSpec(name: "notification-smtp-from-name", help: "the sender's display name", defaultValue: "KaroKar"),
        SettingSpec(name: "notification-smtp-helo", help: "the name given in EHLO", defaultValue: "karokar.local"),
        SettingSpec(name: "notification-smtp-message-id-domain", help: "the domain of each delivery's Message-ID", defaultValue: "karokar.local"),
        SettingSpec(name: "notification-smtp-username", help: "AUTH user name (empty: no AUTH)", defaultValue: ""),
        SettingSpec(name: "notification-smtp-password", help: "AUTH password (environment or the -file variant only)", defaultValue: ""),
        SettingSpec(name: "notification-smtp-password-file", help: "file holding notification-smtp-password", defaultValue: ""),
        SettingSpec(name: "notification-smtp-starttls", help: "require STARTTLS before AUTH and MAIL, the certificate verified (true or false)", defaultValue: "false"),
        SettingSpec(name: "notification-smtp-ca-file", help: "PEM roots that verify the SMTP server's certificate (implies STARTTLS; empty: the system's)", defaultValue: ""),
        SettingSpec(name: "notification-smtp-implicit-tls", help: "TLS from the first byte (SMTPS, usually port 465), the certificate verified (true or false; not with notification-smtp-starttls)", defaultValue: "false"),
        SettingSpec(name: "notification-smtp-timeout-ms", help: "limit of connecting, of each step of the SMTP dialogue and of waiting for a pooled connection", defaultValue: "5000"),
        SettingSpec(name: "notification-smtp-connections", help: "persistent SMTP connections one process keeps to the relay at most (each carries many messages, one at a time)", defaultValue: "8"),
        SettingSpec(name: "notification-smtp-idle-s", help: "a pooled SMTP connection idle this long is closed", defaultValue: "30"),
        SettingSpec(name: "notification-smtp-max-messages-per-connection", help: "messages one SMTP connection carries before it is replaced", defaultValue: "1000"),
        SettingSpec(name: "notification-sms-url", help: "HTTP endpoint that sends SMS (empty: no SMS deliveries)", defaultValue: ""),
        SettingSpec(name: "notification-sms-auth", help: "bearer, hmac (x-karokar-signature) or none", defaultValue: "bearer"),
        SettingSpec(name: "notification-sms-secret", help: "its bearer token or HMAC secret (environment or the -file variant only)", defaultValue: ""),
        SettingSpec(name: "notification-sms-secret-file", help: "file holding notification-sms-secret", defaultValue: ""),
        SettingSpec(name: "notification-sms-timeout-ms", help: "one request's limit", defaultValue: "5000"),
        SettingSpec(name: "notification-push-url", help: "HTTP endpoint that sends push notifications (empty: none)", defaultValue: ""),
        SettingSpec(name: "notification-push-auth", help: "bearer, hmac (x-karokar-signature) or none", defaultValue: "bearer"),
        SettingSpec(name: "notification-push-secret", help: "its bearer token or HMAC secret (environment or the -file variant only)", defaultValue: ""),
        SettingSpec(name: "notification-push-secret-file", help: "file holding notification-push-secret", defaultValue: ""),
        SettingSpec(name: "notification-push-timeout-ms", help: "one request's limit", defaultValue: "5000"),
    ]

    /// The settings whose values are secrets: never from a flag.
    static let notificationSecrets: Set<String> = ["notification-smtp-password", "notification-sms-secret", "notification-push-secret"]

    /// Applies a `notification-*` setting; false for other names. Settings are applied in name
    /// order, so an endpoint's `-auth` comes before its `-secret` and its `-url` after both.
    mutating func applyNotification(_ name: String, _ value: String, source: String) throws -> Bool {
        guard name.hasPrefix("notification-") else { return false }
        func integer(_ range: ClosedRange<Int>) throws -> Int {
            guard let number = Int(value), range.contains(number) else {
                throw Invalid(description: "\(source): \"\(value)\" is not an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return number
        }
        if Self.notificationSecrets.contains(name), source.hasPrefix("--") {
            throw Invalid(description: "\(source): a secret is never a flag (it would show in the process list): use \(SettingSpec(name: name, help: "", defaultValue: "").environmentVariable) or \(name)-file")
        }
        var smtp = notification.smtp ?? SMTPConfiguration(host: "", from: "notifications@karokar.local")
        switch name {
        case "notification-sending":
            guard value == "true" || value == "false" else { throw Invalid(description: "\(source): expected true or false") }
            notification.sending = value == "true"
            return true
        case "notification-poll-interval-ms": notification.pollInterval = .milliseconds(try integer(10...60_000)); return true
        case "notification-max-in-flight": notification.maximumInFlight = try integer(1...1000); return true
        case "notification-handoff": notification.handoffCapacity = value.isEmpty ? nil : try integer(0...100_000); return true
        case "notification-behind-after-ms": notification.behindAfter = .milliseconds(try integer(0...3_600_000)); return true
        case "notification-max-attempts": notification.maximumAttempts = try integer(1...100); return true
        case "notification-retry-delay-ms": notification.firstRetryDelay = .milliseconds(try integer(1...3_600_000)); return true
        case "notification-max-retry-delay-s": notification.maximumRetryDelay = .seconds(try integer(1...86_400)); return true
        case "notification-lease-s": notification.lease = .seconds(try integer(5...3600)); return true
        case "notification-retention-days":
            let days = try integer(0...36_500)
            notification.retention = days == 0 ? nil : .seconds(days * 86_400)
            return true
        case "notification-retention-sweep-interval-s":
            let seconds = try integer(0...604_800)
            notification.retentionSweepInterval = seconds == 0 ? nil : .seconds(seconds)
            return true
        case "notification-retention-batch-size": notification.retentionBatchSize = try integer(1...100_000); return true
        case "notification-smtp-host": smtp.host = value
        case "notification-smtp-port": smtp.port = try integer(1...65535)
        case "notification-smtp-from":
            guard Self.isMailAddress(value) else { throw Invalid(description: "\(source): expected an e-mail address") }
            smtp.from = value
        case "notification-smtp-from-name": smtp.fromName = String(value.prefix(100))
        case "notification-smtp-helo":
            guard value.range(of: "^[A-Za-z0-9.-]{1,253}$", options: .regularExpression) != nil else {
                throw Invalid(description: "\(source): expected a host name")
            }
            smtp.heloName = value
        case "notification-smtp-message-id-domain":
            guard value.range(of: "^[A-Za-z0-9.-]{1,253}$", options: .regularExpression) != nil else {
                throw Invalid(description: "\(source): expected a domain name")
            }
            smtp.messageIDDomain = value
        case "notification-smtp-username", "notification-smtp-password":
            var (username, password) = ("", "")
            if case .password(let user, let secret) = smtp.authentication { (username, password) = (user, secret) }
            if name == "notification-smtp-username" { username = value } else { password = value }
            smtp.authentication = username.isEmpty && password.isEmpty ? .none : .password(username: username, password: password)
        case "notification-smtp-timeout-ms": smtp.timeout = .milliseconds(try integer(10...300_000))
        case "notification-smtp-connections": smtp.maximumConnections = try integer(1...256)
        case "notification-smtp-idle-s": smtp.idleTimeout = .seconds(try integer(1...3600))
        case "notification-smtp-max-messages-per-connection": smtp.maximumMessagesPerConnection = try integer(1...1_000_000)
        case "notification-smtp-ca-file":
            // Applied before `-implicit-tls` and `-starttls` (name order): a CA file means
            // STARTTLS unless implicit TLS is asked for or `-starttls` says false.
            if !value.isEmpty { smtp.security = .startTLS(trustRootsFile: value) }
        case "notification-smtp-implicit-tls":
            guard value == "true" || value == "false" else { throw Invalid(description: "\(source): expected true or false") }
            if value == "true" {
                if case .startTLS(let roots) = smtp.security {
                    smtp.security = .implicitTLS(trustRootsFile: roots)
                } else {
                    smtp.security = .implicitTLS(trustRootsFile: nil)
                }
            }
        case "notification-smtp-starttls":
            guard value == "true" || value == "false" else { throw Invalid(description: "\(source): expected true or false") }
            if case .implicitTLS = smtp.security {
                if value == "true" {
                    throw Invalid(description: "\(source): notification-smtp-starttls and notification-smtp-implicit-tls exclude each other")
                }
            } else if value == "false" {
                smtp.security = .none
            } else if case .none = smtp.security {
                smtp.security = .startTLS(trustRootsFile: nil)
            }
        case "notification-sms-url", "notification-sms-auth", "notification-sms-secret", "notification-sms-timeout-ms":
            notification.sms = try Self.applyEndpoint(notification.sms, String(name.dropFirst("notification-sms-".count)), value, source: source)
            return true
        case "notification-push-url", "notification-push-auth", "notification-push-secret", "notification-push-timeout-ms":
            notification.push = try Self.applyEndpoint(notification.push, String(name.dropFirst("notification-push-".count)), value, source: source)
            return true
        default: return false
        }
        notification.smtp = smtp
        return true
    }

    /// One HTTP endpoint's setting; an endpoint without a URL stays unconfigured (nil).
    private static func applyEndpoint(
        _ current: HTTPChannelConfiguration?, _ key: String, _ value: String, source: String
    ) throws -> HTTPChannelConfiguration? {
        var endpoint = current ?? {
            var fresh = HTTPChannelConfiguration(url: "")
            fresh.authentication = .bearer("")
            return fresh
        }()
        let secret: String = switch endpoint.authentication {
        case .none: ""
        case .bearer(let secret), .hmac(let secret): secret
        }
        switch key {
        case "url":
            guard value.isEmpty || (URL(string: value).map { ["http", "https"].contains($0.scheme ?? "") && $0.host != nil } ?? false) else {
                throw Invalid(description: "\(source): expected an http:// or https:// URL")
            }
            endpoint.url = value
        case "auth":
            switch value {
            case "bearer": endpoint.authentication = .bearer(secret)
            case "hmac": endpoint.authentication = .hmac(secret)
            case "none": endpoint.authentication = .none
            default: throw Invalid(description: "\(source): expected bearer, hmac or none")
            }
        case "secret":
            switch endpoint.authentication {
            case .none: break
            case .bearer: endpoint.authentication = .bearer(value)
            case .hmac: endpoint.authentication = .hmac(value)
            }
        case "timeout-ms":
            guard let number = Int(value), (10...60_000).contains(number) else {
                throw Invalid(description: "\(source): \"\(value)\" is not an integer in 10...60000")
            }
            endpoint.timeout = .milliseconds(number)
        default: break
        }
        return endpoint
    }

    /// Drops what is configured but unusable: an SMTP configuration without a host, endpoints
    /// without a URL; refuses an endpoint whose authentication lacks its secret, and AUTH
    /// without a user name or password.
    mutating func checkNotification() throws {
        if let smtp = notification.smtp, smtp.host.isEmpty { notification.smtp = nil }
        if let smtp = notification.smtp, case .password(let username, let password) = smtp.authentication, username.isEmpty || password.isEmpty {
            throw Invalid(description: "notification-smtp-username and notification-smtp-password go together")
        }
        for (name, endpoint) in [("sms", notification.sms), ("push", notification.push)] {
            guard let endpoint, !endpoint.url.isEmpty else {
                if name == "sms" { notification.sms = nil } else { notification.push = nil }
                continue
            }
            switch endpoint.authentication {
            case .bearer(let secret), .hmac(let secret):
                guard !secret.isEmpty else {
                    throw Invalid(description: "notification-\(name)-secret is needed (or notification-\(name)-auth=none)")
                }
            case .none: break
            }
        }
        let longest = max(
            notification.smtp.map { $0.timeout * 8 } ?? .zero, notification.sms?.timeout ?? .zero, notification.push?.timeout ?? .zero
        )
        guard longest < notification.lease else {
            throw Invalid(description: "notification-lease-s must exceed the longest send (the SMTP timeout covers each of about 8 steps)")
        }
    }

    static func isMailAddress(_ text: String) -> Bool {
        text.utf8.count <= 254 && text.range(of: "^[^@<>\\s]+@[^@<>\\s]+$", options: .regularExpression) != nil
    }
}

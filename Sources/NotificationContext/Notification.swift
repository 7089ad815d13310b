public import KaroKarKernel
public import KaroKarPostgres
public import KaroKarRPC
import KaroKarServices
import Logging

/// The Notification context's front door (DOMAIN.md section 9): it tells people what happened,
/// driven only by events (no context calls it). One after-commit consumer, `notification`, turns
/// each event a rule names (``NotificationRules``) into delivery records, one per recipient and
/// channel, rendered from the rule's templates, in the consumer's transaction; the senders
/// (``DeliverySenders``) take those handed to them at commit (``DeliveryHandoff``) and claim the
/// other due deliveries, and send them over SMTP and HTTP, with retries, from any number of
/// server processes. In-app deliveries are the inbox.
///
/// Recipients come from the kernel's ``RecipientDirectory`` port (Identity answers it) and from
/// facts this context learns from booking events (which corporates book which vehicle). It holds
/// no business state in memory, so its use cases are `nonisolated`. See the README next to this
/// file for its rules.
public actor Notification: BoundedContext {
    public static let migrations: [Migration] = NotificationMigrations.all

    nonisolated let environment: ContextEnvironment
    nonisolated let recipients: any RecipientDirectory
    nonisolated let options: NotificationOptions
    /// The configured senders, by channel (in-app needs none).
    nonisolated let senders: [NotificationChannel: any DeliverySender]
    /// Planned deliveries handed straight to this process's senders (nil when it sends nothing).
    nonisolated let handoff: DeliveryHandoff?

    public init(environment: ContextEnvironment, recipients: any RecipientDirectory, options: NotificationOptions = NotificationOptions()) {
        self.environment = environment.named("notification")
        self.recipients = recipients
        self.options = options
        var senders: [NotificationChannel: any DeliverySender] = [:]
        if let smtp = options.smtp { senders[.email] = EmailSender(smtp) }
        if let sms = options.sms { senders[.sms] = HTTPSender(channel: .sms, configuration: sms, clock: environment.clock) }
        if let push = options.push { senders[.push] = HTTPSender(channel: .push, configuration: push, clock: environment.clock) }
        self.senders = senders
        let capacity = options.handoffCapacity ?? 16 * options.maximumInFlight
        handoff = options.sending && !senders.isEmpty && capacity > 0 ? DeliveryHandoff(capacity: capacity, maximumWait: options.lease / 2) : nil
        NotificationPlanning.subscribe(self, to: environment.bus)
    }

    nonisolated var bus: EventBus { environment.bus }

    /// The channels a delivery can be made on here: in-app always, the others when configured.
    nonisolated var channels: Set<NotificationChannel> { Set(senders.keys).union([.inApp]) }

    /// `karokar.notification.v1.NotificationService`.
    public nonisolated var services: [RPCServiceDefinition] {
        [NotificationHandler(notification: self).serviceDefinition()]
    }

    /// The senders' loop and the retention sweep, until cancelled (every server process runs
    /// them; they share the work through the database).
    public nonisolated func runBackgroundWork() async {
        await withTaskGroup(of: Void.self) { group in
            if options.sending, !senders.isEmpty {
                group.addTask { await DeliverySenders(notification: self).run() }
            }
            if options.retention != nil, let interval = options.retentionSweepInterval {
                group.addTask { await self.prunePeriodically(every: interval) }
            }
        }
    }
}

/// Notification's settings (from the server's configuration, Settings+Notification.swift).
public struct NotificationOptions: Sendable {
    /// E-mail over SMTP; nil: no e-mail deliveries are made.
    public var smtp: SMTPConfiguration?
    /// SMS through an HTTP endpoint; nil: none.
    public var sms: HTTPChannelConfiguration?
    /// Push through an HTTP endpoint; nil: none.
    public var push: HTTPChannelConfiguration?
    /// Whether this process runs the senders' loop (false: it only plans deliveries).
    public var sending = true
    /// How often an idle sender looks for due deliveries.
    public var pollInterval: Duration = .milliseconds(250)
    /// Deliveries one process sends at once.
    public var maximumInFlight = 32
    /// How many planned deliveries may wait for this process's senders, handed over at commit
    /// without a claim (``DeliveryHandoff``); nil: 16 x ``maximumInFlight``; 0: none (every
    /// delivery is claimed).
    public var handoffCapacity: Int?
    /// Attempts before a delivery is FAILED.
    public var maximumAttempts = 8
    /// Backoff before the second attempt; doubles per attempt (with jitter), capped below.
    public var firstRetryDelay: Duration = .seconds(5)
    public var maximumRetryDelay: Duration = .seconds(900)
    /// A claimed delivery whose sender died is due again after this (longer than any send).
    public var lease: Duration = .seconds(60)
    /// The senders are behind when a claim comes back full of deliveries that had all been due
    /// longer than this: planning then hands nothing over (new deliveries queue behind the
    /// backlog, first come, first served) until a claim says otherwise. A full claim of fresh
    /// deliveries (written unleased a moment before, say because the handoff was full) is not
    /// a backlog: gating on it kept every later delivery on the claimed path, which costs one
    /// more statement and row version each, and the senders never caught up again.
    public var behindAfter: Duration = .seconds(1)
    /// SENT and SKIPPED deliveries (in-app ones once read) are deleted this long after they were
    /// created; nil: kept for ever.
    public var retention: Duration? = .seconds(30 * 86_400)
    /// How often the retention sweep runs; nil: never.
    public var retentionSweepInterval: Duration? = .seconds(3600)
    /// Deliveries one retention statement deletes at most (a sweep repeats until none is left).
    public var retentionBatchSize = 1000

    public init() {}

    /// Whether `claim`, asked for `limit` deliveries, says the senders are behind (``behindAfter``).
    func isBehind(_ claim: DeliveryStore.Claim, limit: Int) -> Bool {
        claim.deliveries.count >= limit && (claim.freshestWait ?? .zero) > behindAfter
    }

    /// The backoff after `attempts` failed attempts: `first × 2^(attempts-1)`, capped, with
    /// jitter (uniformly 50 to 100 % of it), so that retries of many deliveries spread out.
    func retryDelay(afterAttempts attempts: Int, random: Double = Double.random(in: 0...1)) -> Duration {
        let base = min(firstRetryDelay * (1 << min(max(attempts - 1, 0), 20)), maximumRetryDelay)
        return base * (0.5 + 0.5 * min(max(random, 0), 1))
    }
}

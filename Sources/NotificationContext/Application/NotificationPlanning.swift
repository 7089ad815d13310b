import Foundation
import KaroKarKernel
import KaroKarMessages

/// The one subscription: the rules' event types and every booking event (to learn which
/// corporates book which vehicle), after commit, read from the outbox as a log (events migration
/// 8: no delivery row per event, each event once with the cursor's move), from the moment the
/// context is first deployed (`.now`); an event that cannot be planned is parked as a dead
/// letter for operators and does not stop later ones. For each event a rule names, in the
/// consumer's transaction: the recipients, then one delivery per recipient and channel,
/// rendered, PENDING (to send), SENT (in-app: stored is delivered) or SKIPPED (opted out, no
/// address, account disabled). Unique per (event, recipient, channel): an event read again adds
/// nothing. The senders take it from there after commit: those written leased for this process's
/// senders are handed to them at once (``DeliveryHandoff``), the others are claimed.
enum NotificationPlanning {
    static let consumer = "notification"

    /// Takes the log's batches (up to 500 events) at once: recipients and preferences looked up
    /// once per batch (``PlanningBatch``), the deliveries written in one statement. A batch that
    /// fails is read again one event at a time.
    static func subscribe(_ notification: Notification, to bus: EventBus) {
        let patterns = Set(NotificationRules.all.map(\.eventType)).union(["booking.*"]).sorted().map { EventPattern(stringLiteral: $0) }
        bus.consumeLog(patterns, as: consumer, from: .now) { events, work in
            let batch = PlanningBatch(directory: notification.recipients)
            for event in events {
                try await plan(event, notification: notification, batch, work)
            }
            batch.flushLearnedBookings(work)
            if let handoff = notification.handoff {
                lease(&batch.planned, room: handoff.room, senders: notification.senders)
            }
            let handed = try await DeliveryStore.plan(batch.planned, at: notification.environment.clock.now(), lease: notification.options.lease, work)
            if let handoff = notification.handoff, !handed.isEmpty {
                work.afterCommit { handoff.hand(handed) }
            }
        }
    }

    /// Marks up to `room` PENDING deliveries, in planning order, to be written leased for this
    /// process's senders (``DeliveryHandoff``); the rest are claimed as usual.
    static func lease(_ planned: inout [DeliveryStore.Planned], room: Int, senders: [NotificationChannel: any DeliverySender]) {
        var room = room
        for index in planned.indices where room > 0 && planned[index].status == .pending && senders[planned[index].channel] != nil {
            planned[index].leased = true
            room -= 1
        }
    }

    static func plan(_ event: EventsV1.EventEnvelope, notification: Notification, _ batch: PlanningBatch, _ work: UnitOfWork) async throws {
        let facts = EventFacts.of(event)
        if event.eventType.hasPrefix("booking."), let booking = uuid(facts["bookingId"]), let vehicle = uuid(facts["vehicleId"]),
           let corporate = uuid(facts["corporateOrganizationId"]) {
            let closed = ["booking.rejected", "booking.completed", "booking.terminated", "booking.cancelled"].contains(event.eventType)
            batch.learnBooking(booking, vehicle: vehicle, corporate: corporate, open: !closed)
        }
        guard let rule = NotificationRules.byEventType[event.eventType],
              rule.when.allSatisfy({ facts[$0] == "true" }), !rule.unless.contains(where: { facts[$0] == "true" }),
              let eventID = uuid(event.eventId)
        else { return }
        if rule.recipients.contains(where: \.readsLearnedBookings) {
            batch.flushLearnedBookings(work)  // what the batch learned so far, before it is read
        }
        let people = try await recipients(of: rule, facts: facts, directory: batch, work)
        guard !people.isEmpty else { return }
        let preferences = try await batch.preferences(of: people.map(\.userID), work)
        let channels = ([.inApp] + rule.channels).filter(notification.channels.contains)
        let subjectID = facts[rule.subjectFact] ?? event.aggregateId
        guard let renderings = TemplateRenderer.render(rule.template, recipients: people, facts: facts) else {
            throw PlanningError.noTemplate(rule.template)
        }
        for (person, rendered) in zip(people, renderings) {
            let allowed = preferences[person.userID]
            for channel in channels {
                var status: DeliveryStatus = channel == .inApp ? .sent : .pending
                var reason: String?
                let address: String = switch channel {
                case .email: person.email
                case .sms: person.phone ?? ""
                case .push, .inApp: ""
                }
                if !person.isReachable {
                    (status, reason) = (.skipped, "the recipient's account is disabled or their membership ended")
                } else if let allowed, !allowed.allows(channel, for: event.eventType) {
                    (status, reason) = (.skipped, "the recipient opted out of \(channel.rawValue) for \(event.eventType)")
                } else if (channel == .email || channel == .sms) && address.isEmpty {
                    (status, reason) = (.skipped, "the recipient has no \(channel == .sms ? "phone number" : "e-mail address")")
                }
                batch.planned.append(DeliveryStore.Planned(
                    eventID: eventID, eventType: event.eventType, recipient: person, channel: channel, template: rule.template,
                    status: status, lastError: reason, address: address, title: rendered.title,
                    body: channel == .email ? rendered.body + NotificationTemplates.emailFooter : rendered.body,
                    // The short text is what SMS and push send; an e-mail or in-app row would only
                    // carry it (into the WAL, and again with its SENT update) for nothing.
                    shortBody: channel == .sms || channel == .push ? rendered.short : "", subjectType: rule.subjectType, subjectID: subjectID
                ))
            }
        }
    }

    /// Everyone the rule's clauses name, each user once (the first clause naming them decides
    /// the organization the notification is filed under).
    static func recipients(
        of rule: NotificationRule, facts: [String: String], directory: any RecipientDirectory, _ work: UnitOfWork
    ) async throws -> [RecipientFacts] {
        var people: [RecipientFacts] = []
        var seen: Set<UUID> = []
        let limit = NotificationRules.maximumRecipientsPerClause
        for clause in rule.recipients {
            var found: [RecipientFacts] = []
            switch clause {
            case .user(let user, let organization):
                if let user = uuid(facts[user]), let organization = uuid(facts[organization]),
                   let person = try await directory.recipient(user: user, organization: organization, on: work) {
                    found = [person]
                }
            case .members(let organization, let roles):
                if let organization = uuid(facts[organization]) {
                    found = try await directory.recipients(organization: organization, roles: roles, limit: limit, on: work)
                }
            case .bookingCorporates(let vehicle, let roles):
                if let vehicle = uuid(facts[vehicle]) {
                    for corporate in try await DeliveryStore.bookingCorporates(vehicle: vehicle, work) {
                        found += try await directory.recipients(organization: corporate, roles: roles, limit: limit, on: work)
                    }
                }
            }
            for person in found where seen.insert(person.userID).inserted {
                people.append(person)
            }
        }
        return people
    }

    static func uuid(_ text: String?) -> UUID? {
        text.flatMap(UUID.init(uuidString:))
    }
}

/// One batch's planning: the deliveries to write, and the recipients and preferences looked up
/// so far (a batch of events about one organization asks the directory once). Within the
/// batch's transaction a lookup answers as at its first asking. Used by one task, in turn.
final class PlanningBatch: RecipientDirectory, @unchecked Sendable {
    struct Members: Hashable {
        var organization: UUID
        var roles: [String]
        var limit: Int
    }

    struct Membership: Hashable {
        var user: UUID
        var organization: UUID
    }

    let directory: any RecipientDirectory
    var planned: [DeliveryStore.Planned] = []
    /// Bookings learned from the batch's events and not yet written: one statement for many.
    private var learned: [UUID: DeliveryStore.LearnedBooking] = [:]
    private var members: [Members: [RecipientFacts]] = [:]
    private var memberships: [Membership: RecipientFacts?] = [:]
    private var preferences: [UUID: NotificationPreferences?] = [:]

    init(directory: any RecipientDirectory) {
        self.directory = directory
    }

    /// Notes a booking event's facts (closed once any event closed it).
    func learnBooking(_ booking: UUID, vehicle: UUID, corporate: UUID, open: Bool) {
        let known = learned[booking]
        learned[booking] = DeliveryStore.LearnedBooking(booking: booking, vehicle: vehicle, corporate: corporate, open: open && (known?.open ?? true))
    }

    /// Queues the learned bookings' upsert (with the transaction's next statement).
    func flushLearnedBookings(_ work: UnitOfWork) {
        guard !learned.isEmpty else { return }
        DeliveryStore.learnBookings(Array(learned.values), work)
        learned = [:]
    }

    func recipients(organization: UUID, roles: [String], limit: Int, on work: UnitOfWork) async throws -> [RecipientFacts] {
        let key = Members(organization: organization, roles: roles, limit: limit)
        if let found = members[key] { return found }
        let found = try await directory.recipients(organization: organization, roles: roles, limit: limit, on: work)
        members[key] = found
        return found
    }

    func recipient(user: UUID, organization: UUID, on work: UnitOfWork) async throws -> RecipientFacts? {
        let key = Membership(user: user, organization: organization)
        if let found = memberships[key] { return found }
        let found = try await directory.recipient(user: user, organization: organization, on: work)
        memberships[key] = .some(found)
        return found
    }

    func preferences(of users: [UUID], _ work: UnitOfWork) async throws -> [UUID: NotificationPreferences] {
        let missing = users.filter { preferences[$0] == nil }
        if !missing.isEmpty {
            let found = try await DeliveryStore.preferences(of: missing, work)
            for user in missing { preferences[user] = .some(found[user]) }
        }
        var answer: [UUID: NotificationPreferences] = [:]
        for user in users { if let known = preferences[user] ?? nil { answer[user] = known } }
        return answer
    }
}

/// An event the planner cannot turn into deliveries (a dead letter, retried by operators).
enum PlanningError: Error, CustomStringConvertible {
    case noTemplate(String)

    var description: String {
        switch self {
        case .noTemplate(let name): "no template \(name)"
        }
    }
}

import Foundation
import KaroKarKernel
import Mustache

/// Renders the rules' templates (``NotificationTemplates``) with swift-mustache, as plain text
/// (no HTML escaping). Parsed once; a template that does not parse is a programming error a test
/// catches (every rule's template is rendered in one).
enum TemplateRenderer {
    struct Rendered: Sendable, Hashable {
        var title: String
        var body: String
        var short: String
    }

    struct Parsed: Sendable {
        let title: MustacheTemplate
        let body: MustacheTemplate
        let short: MustacheTemplate
        /// Whether the title and the short text name the recipient (their source mentions
        /// `recipient`); those that do not are rendered once for all recipients of an event.
        let titleIsPersonal: Bool
        let shortIsPersonal: Bool

        init(_ template: MessageTemplate) throws {
            func parse(_ text: String) throws -> MustacheTemplate {
                try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + text)
            }
            title = try parse(template.title)
            body = try parse(template.body)
            short = try parse(template.short)
            titleIsPersonal = template.title.contains("recipient")
            shortIsPersonal = template.short.contains("recipient")
        }
    }

    static let parsed: [String: Parsed] = {
        var parsed: [String: Parsed] = [:]
        for (name, template) in NotificationTemplates.all {
            do {
                parsed[name] = try Parsed(template)
            } catch {
                preconditionFailure("template \(name) does not parse: \(error)")
            }
        }
        return parsed
    }()

    /// The template `name` for `recipient` about an event with `facts`; nil when there is no
    /// such template.
    static func render(_ name: String, recipient: RecipientFacts, facts: [String: String]) -> Rendered? {
        render(name, recipients: [recipient], facts: facts)?.first
    }

    /// The template `name` for each of `recipients` about one event with `facts`, in their order;
    /// nil when there is no such template. A title or short text that names no recipient is
    /// rendered once for all of them (the same text each would get).
    static func render(_ name: String, recipients: [RecipientFacts], facts: [String: String]) -> [Rendered]? {
        parsed[name].map { render($0, recipients: recipients, facts: facts) }
    }

    static func render(_ template: Parsed, recipients: [RecipientFacts], facts: [String: String]) -> [Rendered] {
        var context: [String: Any] = facts
        let sharedTitle = template.titleIsPersonal ? nil : oneLine(template.title.render(context))
        let sharedShort = template.shortIsPersonal ? nil : oneLine(template.short.render(context))
        return recipients.map { recipient in
            context["recipient"] = ["firstName": recipient.firstName, "lastName": recipient.lastName]
            return Rendered(
                title: sharedTitle ?? oneLine(template.title.render(context)), body: template.body.render(context),
                short: sharedShort ?? oneLine(template.short.render(context))
            )
        }
    }

    /// Titles and SMS are one line: control characters (a CR or LF from an event's free text
    /// would forge an e-mail header) become spaces.
    /// Then trimmed of spaces at both ends: Foundation's `CharacterSet.whitespaces` (tab, space,
    /// U+00A0, U+1680, U+2000-U+200B, U+202F, U+205F, U+3000). Scalar by scalar, without a property
    /// lookup per scalar (Cc is exactly U+0000-U+001F and U+007F-U+009F) or Foundation's trimming:
    /// the old form was a third of rendering's CPU under Deploy/bench-notification.sh.
    static func oneLine(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let isControl = scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
            scalars.append(isControl ? " " : scalar)
        }
        var start = scalars.startIndex
        var end = scalars.endIndex
        while start < end, isSpace(scalars[start]) {
            start = scalars.index(after: start)
        }
        while end > start, isSpace(scalars[scalars.index(before: end)]) {
            end = scalars.index(before: end)
        }
        return String(scalars[start..<end])
    }

    private static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x20, 0xA0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }
}

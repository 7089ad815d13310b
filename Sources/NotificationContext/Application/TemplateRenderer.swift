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
    }

    static let parsed: [String: Parsed] = {
        var parsed: [String: Parsed] = [:]
        for (name, template) in NotificationTemplates.all {
            func parse(_ text: String) -> MustacheTemplate {
                do {
                    return try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + text)
                } catch {
                    preconditionFailure("template \(name) does not parse: \(error)")
                }
            }
            parsed[name] = Parsed(title: parse(template.title), body: parse(template.body), short: parse(template.short))
        }
        return parsed
    }()

    /// The template `name` for `recipient` about an event with `facts`; nil when there is no
    /// such template.
    static func render(_ name: String, recipient: RecipientFacts, facts: [String: String]) -> Rendered? {
        guard let template = parsed[name] else { return nil }
        var context: [String: Any] = facts
        context["recipient"] = ["firstName": recipient.firstName, "lastName": recipient.lastName]
        return Rendered(
            title: oneLine(template.title.render(context)), body: template.body.render(context),
            short: oneLine(template.short.render(context))
        )
    }

    /// Titles and SMS are one line: control characters (a CR or LF from an event's free text
    /// would forge an e-mail header) become spaces.
    static func oneLine(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
            .trimmingCharacters(in: .whitespaces)
    }
}

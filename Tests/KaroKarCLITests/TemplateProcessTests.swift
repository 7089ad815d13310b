import Foundation
import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarTestSupport
import KaroKarToolSupport
import Testing

extension ToolProcesses {
    /// `karokar describe --template` for every method the full server lists: the skeleton names
    /// every field of the request (one member per oneof), and `karokar call` sends it as is: the
    /// server answers it, whatever it answers, and no call fails locally on the JSON.
    @Suite("karokar describe --template")
    struct TemplateProcessTests {
        @Test("every listed method's request template round-trips through karokar call")
        func templatesRoundTripThroughCall() async throws {
            let server = try await TestServer.startWithDatabase(background: false)
            let config = try ScratchDirectory()
            defer { config.remove() }
            let environment = ["XDG_CONFIG_HOME": config.path]
            let address = ["--address", "127.0.0.1:\(server.port)", "--timeout", "10s"]
            let client = server.client()
            let services = try await SchemaWalker.listServices(client, options: CallOptions())
            await client.close()
            let methods = services.flatMap(\.methods)
            #expect(methods.count > 20, "the full server lists its contexts' methods")
            var requestTypes: Set<String> = []
            for method in methods {
                requestTypes.insert(method.requestType)
                let template = try await ToolProcess.run("karokar", ["describe", "--template", method.path] + address, environment: environment)
                #expect(template.status == 0, "\(method.path): \(template.stderr)")
                let json = try JSONParser.parse(template.stdout)
                Self.expectEveryField(of: method.requestType, in: json, path: method.path)
                // The JSON is accepted as is: encoded by `karokar call`, sent, and answered by the server.
                let call = try await ToolProcess.run("karokar", ["call", method.path, template.stdout] + address, environment: environment)
                #expect(call.status != ExitStatus.localFailure && call.status != ExitStatus.usage, "\(method.path): \(call.stderr)")
                #expect(!call.stderr.contains("is not a valid"), "\(method.path): \(call.stderr)")
            }
            // A type by name gives the same skeleton as its method.
            let byType = try await ToolProcess.run("karokar", ["describe", "--template", "karokar.rpc.v1.EchoRequest"] + address, environment: environment)
            #expect(try JSONParser.parse(byType.stdout) == .object([JSONMember("payload", .string(""))]))
            let enumeration = try await ToolProcess.run("karokar", ["describe", "--template", "karokar.rpc.v1.ServingStatus"] + address, environment: environment)
            #expect(enumeration.status == 1 && enumeration.stderr.contains("is an enum"))
            #expect(requestTypes.count > 20)
            await server.stop()
        }

        /// Every field of the type (by its JSON name) is in the skeleton, but only the first of each
        /// oneof; enums hold a value name, nested messages an object, repeated fields one element.
        static func expectEveryField(of typeName: String, in json: JSONValue, path: String, depth: Int = 0) {
            guard depth < 8, let schema = ProtoRegistry.messages[typeName]?.protoSchema else { return }
            var oneofs: Set<String> = []
            for field in schema.fields {
                if !field.oneof.isEmpty {
                    guard oneofs.insert(field.oneof).inserted else {
                        #expect(json[field.jsonName] == nil, "\(path): \(typeName).\(field.name) is a second member of oneof \(field.oneof)")
                        continue
                    }
                }
                guard let value = json[field.jsonName] else {
                    Issue.record("\(path): \(typeName).\(field.name) is missing from the template")
                    continue
                }
                var element = value
                if field.map {
                    guard let first = value.objectMembers?.first else { Issue.record("\(path): map \(field.name) has no entry"); continue }
                    element = first.value
                } else if field.repeated {
                    guard case .array(let elements) = value, let first = elements.first else {
                        Issue.record("\(path): repeated \(field.name) has no element")
                        continue
                    }
                    element = first
                }
                if field.type == "message" {
                    #expect(element.objectMembers != nil, "\(path): \(field.name)")
                    expectEveryField(of: field.typeName, in: element, path: path, depth: depth + 1)
                } else if field.type == "enum" {
                    if case .string(let name) = element {
                        #expect(name.hasSuffix("_UNSPECIFIED") || !name.isEmpty, "\(path): \(field.name)")
                    } else {
                        Issue.record("\(path): enum \(field.name) is not a value name")
                    }
                }
            }
        }
    }
}

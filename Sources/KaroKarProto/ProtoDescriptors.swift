internal import CProtobufC

/// protobuf-c's description of one message type: a pointer to static, immutable C data.
public struct ProtoMessageDescriptor: @unchecked Sendable, Hashable {
    /// Points at a `const ProtobufCMessageDescriptor` that lives for the whole process.
    public let rawPointer: UnsafeRawPointer

    public init(_ pointer: UnsafePointer<some Any>) {
        self.rawPointer = UnsafeRawPointer(pointer)
    }

    var c: UnsafePointer<ProtobufCMessageDescriptor> {
        rawPointer.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)
    }

    /// Fully qualified name, read from the C descriptor.
    public var name: String {
        String(cString: c.pointee.name)
    }
}

/// One method of a service, read from protobuf-c's service descriptor.
public struct ProtoMethodDescriptor: Sendable, Hashable {
    /// Short name: `RegisterVehicle`.
    public let name: String
    /// Position in the service, i.e. declaration order in the .proto file.
    public let index: Int
    public let input: ProtoMessageDescriptor
    public let output: ProtoMessageDescriptor
}

/// protobuf-c's description of a service; the source of truth for method routing.
public struct ProtoServiceDescriptor: Sendable, Hashable {
    /// Fully qualified: `karokar.fleet.v1.FleetService`.
    public let name: String
    public let methods: [ProtoMethodDescriptor]

    public init(_ pointer: UnsafePointer<some Any>) {
        let c = UnsafeRawPointer(pointer).assumingMemoryBound(to: ProtobufCServiceDescriptor.self).pointee
        precondition(c.magic == PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC, "not a protobuf-c service descriptor")
        self.name = String(cString: c.name)
        self.methods = (0..<Int(c.n_methods)).map { index in
            let method = c.methods[index]
            return ProtoMethodDescriptor(
                name: String(cString: method.name),
                index: index,
                input: ProtoMessageDescriptor(method.input),
                output: ProtoMessageDescriptor(method.output)
            )
        }
    }
}

/// A field of a message, as tools see it (the `karokar` CLI's `describe`).
public struct ProtoFieldSchema: Sendable, Hashable {
    public let name: String
    public let jsonName: String
    public let number: Int32
    /// Protobuf scalar type name (`string`, `int64`, ...), or `message` / `enum`.
    public let type: String
    /// For message and enum fields, the fully qualified type name.
    public let typeName: String
    public let repeated: Bool
    /// The oneof the field belongs to, or empty.
    public let oneof: String
    /// For map fields, the key's scalar type (`string`, `int64`, ...); `type` and `typeName`
    /// then describe the value. Empty for other fields.
    public let mapKeyType: String

    public var map: Bool { !mapKeyType.isEmpty }

    public init(
        name: String, jsonName: String, number: Int32, type: String, typeName: String,
        repeated: Bool, oneof: String, mapKeyType: String
    ) {
        self.name = name
        self.jsonName = jsonName
        self.number = number
        self.type = type
        self.typeName = typeName
        self.repeated = repeated
        self.oneof = oneof
        self.mapKeyType = mapKeyType
    }
}

/// The fields of one message type.
public struct ProtoMessageSchema: Sendable, Hashable {
    public let name: String
    public let fields: [ProtoFieldSchema]

    public init(name: String, fields: [ProtoFieldSchema]) {
        self.name = name
        self.fields = fields
    }
}

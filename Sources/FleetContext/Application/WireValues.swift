import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto

// Domain values in wire messages: the events built here, the responses in RPC/.

extension RawRepresentable where RawValue == String {
    /// The generated enum's value with this stored name (`RESERVED`: `AVAILABILITY_STATUS_RESERVED`),
    /// in any package's copy of the enum (Fleet's, the events').
    func wire<E: ProtoEnum>(_ type: E.Type = E.self) -> E {
        E(storedName: rawValue) ?? E()
    }
}

extension Optional where Wrapped == String {
    var stringValue: CommonV1.StringValue? { map { CommonV1.StringValue(value: $0) } }
}

extension Optional where Wrapped == UUID {
    var stringValue: CommonV1.StringValue? { map { CommonV1.StringValue(value: $0.lowercasedString) } }
}

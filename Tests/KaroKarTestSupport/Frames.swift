public import KaroKarRPC
public import KaroKarProto
public import KaroKarMessages
import NIOCore

/// Building and reading frames in tests.
public enum Frames {
    public static func make<M: ProtoMessage>(_ type: FrameType, callID: UInt32 = 0, _ message: M) -> Frame {
        Frame(type: type, callID: callID, body: ByteBuffer(bytes: ProtoCodec.encode(message)))
    }

    public static func hello(version: UInt32 = 1) -> Frame {
        make(.hello, RPCV1.Hello(protocolVersion: version, clientName: "tests"))
    }

    public static func call<M: ProtoMessage>(
        _ callID: UInt32, path: String, _ request: M, timeoutMicros: UInt64 = 0, metadata: [RPCV1.MetadataEntry] = []
    ) -> Frame {
        make(.call, callID: callID, RPCV1.Call(method: path, timeoutMicros: timeoutMicros, metadata: metadata, payload: ProtoCodec.encode(request)))
    }

    public static func decode<M: ProtoMessage>(_ type: M.Type, _ frame: Frame) throws -> M {
        try ProtoCodec.decode(type, from: Array(frame.body.readableBytesView))
    }
}

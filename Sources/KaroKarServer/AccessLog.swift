import Foundation
import KaroKarKernel
import KaroKarRPC
import KaroKarRPCServer
import Logging

/// The optional per-call access log (`access-log true`): one `info` line per call a handler
/// answered, on the call's logger (so with the connection's `rpc.peer` and `rpc.client`), with
/// `rpc.method`, `rpc.code`, `rpc.domain_code` (when the status has one), `duration_ms`,
/// `organization` (the caller's, when authenticated) and `request_id` (the `request-id`
/// metadata entry, when sent; at most 128 characters).
struct AccessLog: Sendable {
    @Sendable
    func record(_ call: CompletedCall) {
        let context = call.context
        var metadata: Logger.Metadata = [
            "rpc.method": .string(context.path),
            "rpc.code": .string(RPCServerMetrics.name(of: call.code)),
            "duration_ms": .string(String(format: "%.3f", Double(call.nanoseconds) / 1_000_000)),
        ]
        if let domainCode = call.error?.domainCode { metadata["rpc.domain_code"] = .string(domainCode) }
        if let caller = context.caller, caller.kind != .anonymous {
            metadata["organization"] = .string(caller.organizationID.uuidString.lowercased())
        }
        if let requestID = context.metadata[Metadata.Key.requestID] {
            metadata["request_id"] = .string(String(requestID.prefix(128)))
        }
        context.logger.info("call", metadata: metadata)
    }
}

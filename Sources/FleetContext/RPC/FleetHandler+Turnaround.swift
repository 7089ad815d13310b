import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC

/// The owner's turnaround buffer.
extension FleetHandler {
    func setTurnaroundBuffer(
        _ request: FleetV1.SetTurnaroundBufferRequest, context: ServerCallContext
    ) async throws -> FleetV1.SetTurnaroundBufferResponse {
        var check = Validation()
        let minutes = check.range(request.minutes, "minutes", 0...10080)
        try check.finish()
        let invocation = try Invocation(context, fingerprint: request)
        let set = try await fleet.setTurnaroundBuffer(minutes: Int32(minutes), invocation)
        return FleetV1.SetTurnaroundBufferResponse(organizationId: invocation.caller.organizationID.lowercasedString, minutes: UInt32(set))
    }
}

public import KaroKarRPC
public import Testing

/// Expects the call to fail with `code` (and `domainCode`, when given).
public func expectCode(
    _ code: RPCCode, domainCode: String? = nil, _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
) async {
    do {
        try await body()
        Issue.record("expected \(code), the call succeeded", sourceLocation: sourceLocation)
    } catch let error as RPCError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        if let domainCode { #expect(error.domainCode == domainCode, "\(error)", sourceLocation: sourceLocation) }
    } catch {
        Issue.record("expected \(code), got \(error)", sourceLocation: sourceLocation)
    }
}

/// Expects PERMISSION_DENIED.
public func expectDenied(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async {
    await expectCode(.permissionDenied, body, sourceLocation: sourceLocation)
}

import KaroKarKernel
import KaroKarTestSupport
import Testing

/// Issue 19, finding 12: every code the server can put in a status is in `Protos/PROTOCOL.md`
/// (section 7), and everything the document lists is a code the server sends. The sources are
/// read whole (`Sources/`), so this holds wherever the code lives.
@Suite("Protocol document: domain and field violation codes match the sources")
struct DomainCodeDocumentTests {
    let sources = StatusCodeScan.sources(notFoundCode: DomainError.notFoundCode)

    @Test("the scan finds what it should, and can resolve every code built at run time")
    func scanWorks() {
        #expect(sources.unresolved.isEmpty, "\(sources.unresolved)")
        for code in ["VEHICLE_NOT_AVAILABLE", "INVALID_VEHICLE_TRANSITION", "VEHICLE_NOT_FOUND", "DRAINING", "INVALID_CREDENTIALS", "DATABASE_UNAVAILABLE"] {
            #expect(sources.domainCodes.contains(code), "\(code)")
        }
        for code in ["REQUIRED", "TOO_LONG", "OUT_OF_RANGE", "MALFORMED", "WEAK_PASSWORD"] {
            #expect(sources.violationCodes.contains(code), "\(code)")
        }
    }

    @Test("every domain code in the sources is documented, and every documented one is sent")
    func domainCodes() throws {
        let documented = try StatusCodeScan.document().domainCodes
        #expect(sources.domainCodes.subtracting(documented).sorted() == [], "sent but not in PROTOCOL.md section 7")
        #expect(documented.subtracting(sources.domainCodes).sorted() == [], "in PROTOCOL.md section 7 but never sent")
    }

    @Test("every field violation code in the sources is documented, and every documented one is used")
    func violationCodes() throws {
        let documented = try StatusCodeScan.document().violationCodes
        #expect(sources.violationCodes.subtracting(documented).sorted() == [], "used but not in PROTOCOL.md section 7.3")
        #expect(documented.subtracting(sources.violationCodes).sorted() == [], "in PROTOCOL.md section 7.3 but never used")
    }

    @Test("not-found codes name the entity")
    func notFoundCodes() {
        #expect(DomainError.notFound("vehicle").domainCode == "VEHICLE_NOT_FOUND")
        #expect(DomainError.notFound("maintenance record").domainCode == "MAINTENANCE_RECORD_NOT_FOUND")
        #expect(DomainError.notFound("vehicle").rpcError.code == .notFound)
        #expect(DomainError.notFound("vehicle").rpcError.message == "vehicle not found")
    }
}

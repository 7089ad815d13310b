import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServices

/// `karokar.identity.v1.IdentityService`: validates each request, parses it once into domain
/// values, builds the ``Invocation`` (secrets blanked from what idempotency hashes), calls the
/// ``Identity`` use case, maps the result to the response. Split by concern into
/// `IdentityHandler+*.swift`.
struct IdentityHandler: IdentityV1.IdentityService.Handler {
    let identity: Identity

    var pages: PageTokens { identity.environment.pages }
}

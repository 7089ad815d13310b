import KaroKarRPC
import NIOCore

extension ClientAddress {
    /// The address of a call's peer, as the connection names it (`[IPv4]host/203.0.113.7:51234`,
    /// `[IPv6]2001:db8::1:51234`); ``unknown`` for anything else (a Unix socket).
    init(peer: String) {
        guard let bracket = peer.firstIndex(of: "]"), let colon = peer.lastIndex(of: ":"), bracket < colon else {
            self = .unknown
            return
        }
        let hostAndAddress = peer[peer.index(after: bracket)..<colon]
        let text = hostAndAddress.lastIndex(of: "/").map { hostAndAddress[hostAndAddress.index(after: $0)...] } ?? hostAndAddress
        switch try? SocketAddress(ipAddress: String(text), port: 0) {
        case .v4(let address)?:
            self.init(ipv4: withUnsafeBytes(of: address.address.sin_addr) { Array($0) })
        case .v6(let address)?:
            self.init(ipv6: withUnsafeBytes(of: address.address.sin6_addr) { Array($0) })
        default:
            self = .unknown
        }
    }

    /// The address of the call's peer.
    init(_ context: ServerCallContext) {
        self.init(peer: context.peer)
    }
}

/// Whom the per-client limits count (the README, "Rationing"): the network address a call came
/// from, as the server sees it. IPv4: the address. IPv6: its /64 network, what one subscriber
/// usually holds (counting single IPv6 addresses would let one subscriber rotate through 2^64 of
/// them). An IPv4 client seen through an IPv6 socket (`::ffff:a.b.c.d`) counts as the IPv4
/// address. Behind a load balancer or proxy this is the balancer's address, unless it passes
/// the client's own address through (section "Rationing" says what a deployment should do).
struct ClientAddress: Hashable, Sendable {
    /// `203.0.113.7`, `2001:db8:1:2::/64`; `unknown` when the transport named no address.
    let key: String

    static let unknown = ClientAddress(key: "unknown")

    /// An IPv4 address from its four bytes.
    init(ipv4 bytes: some Collection<UInt8>) {
        self.init(key: bytes.map(String.init).joined(separator: "."))
    }

    /// An IPv6 address (16 bytes): its /64 network, or the IPv4 address it maps.
    init(ipv6 bytes: [UInt8]) {
        precondition(bytes.count == 16, "an IPv6 address has 16 bytes")
        if bytes.prefix(10).allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            self.init(ipv4: bytes.suffix(4))
        } else {
            let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            self.init(key: groups.joined(separator: ":") + "::/64")
        }
    }

    init(key: String) {
        self.key = key
    }
}

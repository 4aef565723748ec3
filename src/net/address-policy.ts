import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Which IP addresses outbound HTTP may connect to. */
export interface AddressPolicy {
  /** True when `address` (an IPv4 or IPv6 literal, without brackets) may be connected to. */
  allows(address: string): boolean;
}

/**
 * Only globally routable unicast addresses are reachable, unless inside one of `allowCidrs`.
 * Refused by default: private (10/8, 172.16/12, 192.168/16, fc00::/7), loopback (127/8, ::1),
 * link-local (169.254/16, fe80::/10), unspecified, multicast, broadcast, CGNAT (100.64/10),
 * reserved and documentation ranges, and every IPv6 range that embeds or translates an IPv4
 * address (NAT64, 6to4, Teredo). An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is judged as its
 * IPv4 address. Anything that does not parse is refused.
 *
 * Throws TypeError for an invalid CIDR (config validation reports it to operators first).
 */
export function createAddressPolicy(allowCidrs: readonly string[]): AddressPolicy {
  const allowed: Array<[Address, number]> = allowCidrs.map((cidr) => {
    try {
      return ipaddr.parseCIDR(cidr);
    } catch {
      throw new TypeError(`Invalid CIDR in the outbound allow list: ${cidr}`);
    }
  });

  const inAllowList = (address: Address): boolean =>
    allowed.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));

  return {
    allows(text) {
      let address: Address;
      try {
        // parse(), unlike process(), keeps ::ffff:a.b.c.d as IPv6 so both forms can be checked.
        address = ipaddr.parse(text);
      } catch {
        return false;
      }
      if (inAllowList(address)) return true;
      if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
        const v4 = (address as ipaddr.IPv6).toIPv4Address();
        return inAllowList(v4) || v4.range() === 'unicast';
      }
      return address.range() === 'unicast';
    },
  };
}

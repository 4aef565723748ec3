import dns from 'node:dns';
import type net from 'node:net';
import type { AddressPolicy } from './address-policy.js';

/** Resolves a host name to every address, in `dns.lookup(host, { all: true })` form. */
export type ResolveHost = (hostname: string, family: 0 | 4 | 6) => Promise<Array<{ address: string; family: number }>>;

export const systemResolve: ResolveHost = (hostname, family) => dns.promises.lookup(hostname, { all: true, family });

/** A connection was refused because the host is, or resolves only to, non-public addresses. */
export class BlockedAddressError extends Error {
  readonly code = 'KAIRO_ADDRESS_BLOCKED';
  constructor(readonly hostname: string) {
    super(`${hostname} is, or resolves only to, private, loopback or otherwise non-public addresses`);
    this.name = 'BlockedAddressError';
  }
}

/**
 * A `net.connect` lookup that resolves the name and passes on only permitted addresses, so the
 * socket can connect to nothing else (no DNS-rebinding gap between check and connect). Node
 * calls it with `all: true` when it races address families (the default), else expects one
 * address. `onBlocked` hears of each name refused.
 */
export function createCheckedLookup(policy: AddressPolicy, resolve: ResolveHost = systemResolve, onBlocked?: (hostname: string) => void): net.LookupFunction {
  return (hostname, lookupOptions, callback) => {
    const family = lookupOptions.family === 4 || lookupOptions.family === 6 ? lookupOptions.family : 0;
    resolve(hostname, family).then(
      (addresses) => {
        const permitted = addresses.filter((entry) => policy.allows(entry.address));
        if (permitted.length === 0) {
          onBlocked?.(hostname);
          callback(new BlockedAddressError(hostname), '', 0);
        } else if (lookupOptions.all) {
          (callback as unknown as (error: null, addresses: dns.LookupAddress[]) => void)(null, permitted);
        } else {
          callback(null, permitted[0]!.address, permitted[0]!.family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

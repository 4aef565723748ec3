import net from 'node:net';
import type { AddressPolicy } from '../net/address-policy.js';
import type { ResolveHost } from '../net/checked-lookup.js';
import { KairoError } from '../errors.js';

const MAX_URL_LENGTH = 2048;

/**
 * Refuses an endpoint URL that deliveries could never reach under the operator's address policy:
 * not http(s), with credentials, or a host that is or resolves to a private, loopback or
 * link-local address (unless allowed). A name that does not resolve now is accepted: every
 * delivery checks the address it connects to again.
 */
export async function checkEndpointUrl(raw: string, policy: AddressPolicy, resolve: ResolveHost, param = 'url'): Promise<string> {
  const refuse = (message: string) => new KairoError('parameter_invalid', { param, message });
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse(`${param} must be an absolute http or https URL.`);
  }
  if (raw.length > MAX_URL_LENGTH) throw refuse(`${param} is longer than ${MAX_URL_LENGTH} characters.`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse(`${param} must be an http or https URL.`);
  if (url.username !== '' || url.password !== '') throw refuse(`${param} must not contain credentials.`);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (host === '') throw refuse(`${param} has no host.`);
  const blocked = () => refuse(`${param}: ${url.host} is, or resolves to, a private, loopback or otherwise non-public address, which webhooks may not reach.`);
  if (net.isIP(host) !== 0) {
    if (!policy.allows(host)) throw blocked();
    return url.href;
  }
  let addresses: Array<{ address: string }>;
  try {
    addresses = await resolve(host, 0);
  } catch {
    return url.href;
  }
  if (addresses.some((entry) => !policy.allows(entry.address))) throw blocked();
  return url.href;
}

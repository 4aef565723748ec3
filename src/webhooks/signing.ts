import { createHmac, randomBytes } from 'node:crypto';
import type { WebhookEndpoint } from '../store/port.js';

/** A new endpoint secret in the Standard Webhooks form: `whsec_` and 32 random bytes in base64. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** The secrets that sign a delivery now: the current one, and the previous one until it expires. */
export function signingSecrets(endpoint: WebhookEndpoint, now: number): string[] {
  const previous = endpoint.previousSecret !== null && (endpoint.previousSecretExpiresAt ?? 0) > now ? [endpoint.previousSecret] : [];
  return [endpoint.secret, ...previous];
}

/** The HMAC key of a `whsec_` secret: the base64 after the prefix, decoded. */
const keyOf = (secret: string): Buffer => Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');

/**
 * The Standard Webhooks headers of one delivery: `webhook-id` (the event id, the same on every
 * attempt, so receivers can drop repeats), the time, and one `v1,` signature per secret — an
 * HMAC-SHA256 of `id.timestamp.body` in base64, as the spec defines it. Node's HMAC signs here
 * (the `standardwebhooks` package's pure-JavaScript one costs ten times as much per delivery);
 * the tests check every signature against that package's.
 */
export function signedHeaders(secrets: string[], messageId: string, at: number, body: string): Record<string, string> {
  const timestamp = String(Math.floor(at / 1000));
  const signed = `${messageId}.${timestamp}.${body}`;
  return {
    'webhook-id': messageId,
    'webhook-timestamp': timestamp,
    'webhook-signature': secrets.map((secret) => `v1,${createHmac('sha256', keyOf(secret)).update(signed).digest('base64')}`).join(' '),
  };
}

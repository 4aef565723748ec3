import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateWebhookSecret, signedHeaders } from '../../src/webhooks/signing.js';

describe('webhook signatures', () => {
  it('are the standardwebhooks package\'s own, one per secret, and verify with it', () => {
    const secrets = [generateWebhookSecret(), generateWebhookSecret()];
    const at = Date.UTC(2026, 11, 7, 12, 0, 0, 999);
    const body = JSON.stringify({ id: 'evt_1', type: 'agent.run.completed', data: { object: { text: 'ünïcödé ✓' } } });
    const headers = signedHeaders(secrets, 'evt_1', at, body);
    expect(headers['webhook-timestamp']).toBe(String(Math.floor(at / 1000)));
    expect(headers['webhook-signature']).toBe(secrets.map((secret) => new Webhook(secret).sign('evt_1', new Date(at), body)).join(' '));
    for (const secret of secrets) {
      const verifier = new Webhook(secret);
      // verify() checks the timestamp against the clock: sign now for that part.
      const now = Date.now();
      expect(verifier.verify(body, signedHeaders([secret], 'evt_1', now, body))).toEqual(JSON.parse(body));
    }
    expect(() => new Webhook(generateWebhookSecret()).verify(body, signedHeaders(secrets, 'evt_1', Date.now(), body))).toThrow();
  });
});

/**
 * Retrieval quality on a small labelled set, through the real server: recall@5 and MRR@10 of
 * `vector`, `keyword` and `hybrid` query modes, on every backend.
 *
 * The corpus is a help centre: clusters of documents on one topic (uploads, billing, sensors,
 * the API, accounts) that share most of their words, and in each cluster documents that carry a
 * rare exact token (an error code, a part number, a setting name). The queries are of three
 * kinds, because the two searches fail differently:
 *
 * - The built-in embedder (kairo/hash-384) is lexical — words, word pairs and character
 *   trigrams — so it matches spelling variants, inflections and typos ("refunds" / "refund",
 *   "colour" / "color", "pasword"), where full-text search (no stemming) finds nothing or
 *   only the wrong documents.
 * - Full-text search weighs a rare token by its rarity (bm25 / ts_rank over the rare term) and
 *   ignores stop words, so it finds "E4012" among documents that share every other word of the
 *   query, where the embedding is dominated by those shared words.
 * - Plain questions both should answer.
 *
 * Hybrid search fuses both lists by reciprocal rank: it must be at least as good as each mode
 * alone on the set, and strictly better than one. Deterministic (fixed texts, deterministic
 * embedder and rankers); no timing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';

const CORPUS: Record<string, string> = {
  // Uploads
  'upload-basics': 'To upload a file, drag the file onto the upload area or choose a file from your computer. You can upload several files at once.',
  'upload-types': 'Supported file types for upload are PDF, DOCX, PNG, JPG and CSV. A file of any other type is rejected when you upload it.',
  'upload-progress': 'While a file uploads, a progress bar shows how much of the file has been sent. Keep the tab open until the upload finishes.',
  'upload-mobile': 'To upload a file from the mobile app, tap the plus button and pick a file from your phone or from the camera roll.',
  'upload-api': 'Upload a file through the API with a multipart POST request to the files endpoint; the response holds the new file id.',
  'error-e4012': 'Error code E4012 means the upload was larger than the 25 MB limit. Compress it or split it into parts.',
  'error-e4090': 'Error code E4090 means a file with the same name already exists in the folder. Rename it or replace the existing one.',
  // Billing
  'refund-policy': 'Refund policy: annual plans can be refunded within 30 days of purchase. Monthly plans are not refundable.',
  'cancel-plan': 'Cancel your plan from Billing, then Plan. Access continues until the end of the period you paid for.',
  'invoice-download': 'Download any invoice as a PDF from Billing, then History. Every invoice lists VAT separately.',
  'payment-methods': 'We accept credit cards, SEPA direct debit, and bank transfer for enterprise contracts.',
  'billing-currency': 'Prices are shown in USD, EUR or GBP depending on the country of your billing address.',
  'billing-discount': 'Nonprofits and schools get half off any plan; apply with proof of status and we adjust your next bill.',
  'billing-trial': 'The free trial lasts 14 days and needs no credit card; everything you create stays when you upgrade.',
  'coupon-spring24': 'The coupon SPRING24 takes 20% off the first year of an annual plan bought before June.',
  // Sensors and hardware
  'sensor-pairing': 'To pair a new sensor with the hub, hold its button for five seconds until the light blinks blue.',
  'sensor-battery': 'A sensor battery lasts about eighteen months; the hub warns you when a sensor battery runs low.',
  'sensor-offline': 'If a sensor shows as offline, check that the hub is online and move the sensor closer to the hub.',
  'sensor-firmware': 'Sensor firmware updates install automatically at night; you can also start an update from the sensor page.',
  'sensor-mounting': 'Mount the sensor on a flat wall with the adhesive strip, at least one metre above the floor.',
  'hub-part-gw7731': 'Replacement hub part number GW7731B fits every second generation hub and ships with a new power cable.',
  'hardware-warranty': 'Every device carries a two year warranty covering manufacturing defects but not accidental damage.',
  'hardware-shipping': 'Hardware orders ship within two business days; express delivery is available in most countries.',
  // API and developers
  'api-keys': 'Create API keys under Settings, then Developers. A key is shown once, so store it in a secret manager.',
  'api-rate-limits': 'The API allows 600 requests per minute per workspace; above that it answers with status 429 and a Retry-After header.',
  'api-webhooks': 'Webhooks send an HTTP POST to your endpoint for every event, and retry with backoff when the endpoint fails.',
  'api-webhook-signature': 'Every webhook request carries a signature header, an HMAC of the request body made with your signing secret.',
  'error-e5020': 'Error code E5020 means your webhook endpoint did not answer within ten seconds, so the delivery is retried.',
  'api-pagination': 'List endpoints of the API return pages of results; pass the cursor from one response to get the next page.',
  'setting-max-idle': 'The setting max_idle_minutes signs a user out after that many minutes without activity; the default is 30.',
  // Accounts and workspace
  'password-reset': 'Forgot your password? Use the reset link on the sign in page; the link expires after one hour.',
  'two-factor': 'Two factor authentication protects your account with a one time code from an authenticator app.',
  'single-sign-on': 'Single sign on with SAML is available on the Enterprise plan; upload the metadata of your identity provider.',
  'team-invite': 'Invite teammates by email from Settings, then Members. An invitation expires after seven days.',
  'roles-permissions': 'Roles decide what members may do: owner, admin, editor and viewer. Only an owner may delete the workspace.',
  'workspace-delete': 'Deleting a workspace removes all of its projects, members and billing data, and cannot be undone.',
  'color-theme': 'Customize the color of the dashboard under Appearance; dark and light themes are both available.',
  'email-notifications': 'Choose which email notifications you receive under Profile, then Notifications.',
  'audit-log': 'The audit log records sign ins, permission changes and exports, and keeps them for one year.',
  'ip-allowlist': 'Restrict sign ins to your office network with an allowlist of IP ranges on the Enterprise plan.',
  'data-export': 'Export all reports to CSV or Excel from the Reports page; large exports arrive by email.',
  'keyboard-shortcuts': 'Press Ctrl K to open the command palette, and press the question mark to list every shortcut.',
};

interface Case {
  query: string;
  relevant: string[];
}

const CASES: Case[] = [
  // Spelling variants, inflections, typos: the embedding's character trigrams bridge them.
  { query: 'refunds for yearly subscriptions', relevant: ['refund-policy'] },
  { query: 'cancelling subscriptions', relevant: ['cancel-plan'] },
  { query: 'downloading invoices', relevant: ['invoice-download'] },
  { query: 'pasword resett', relevant: ['password-reset'] },
  { query: 'customise colours', relevant: ['color-theme'] },
  { query: 'pairing sensors', relevant: ['sensor-pairing'] },
  { query: 'inviting teammate', relevant: ['team-invite'] },
  { query: 'notifcations emails', relevant: ['email-notifications'] },
  // Rare exact tokens among documents that share every other word: full text weighs the token.
  { query: 'I get error E4012 when I upload a file', relevant: ['error-e4012'] },
  { query: 'upload of a file fails with E4090', relevant: ['error-e4090'] },
  { query: 'webhook endpoint request error E5020', relevant: ['error-e5020'] },
  { query: 'where can I order the hub part GW7731B for my sensor hub', relevant: ['hub-part-gw7731'] },
  { query: 'what does max_idle_minutes do for the user', relevant: ['setting-max-idle'] },
  { query: 'is the coupon SPRING24 valid on a plan', relevant: ['coupon-spring24'] },
  // Questions in many small words, which weigh in the embedding but not in full-text search.
  { query: 'how do I get a refund', relevant: ['refund-policy'] },
  { query: 'how long until an invitation is no longer valid', relevant: ['team-invite'] },
  { query: 'do you take SEPA', relevant: ['payment-methods'] },
  { query: 'what happens to the things I made when my trial is over', relevant: ['billing-trial'] },
  { query: 'is there a way to see who changed the permissions', relevant: ['audit-log'] },
  // Plain questions.
  { query: 'which file types can I upload', relevant: ['upload-types'] },
  { query: 'sensor battery life', relevant: ['sensor-battery'] },
  { query: 'webhook signature secret', relevant: ['api-webhook-signature'] },
  { query: 'delete the workspace', relevant: ['workspace-delete', 'roles-permissions'] },
  { query: 'API requests per minute limit', relevant: ['api-rate-limits'] },
];

type Mode = 'vector' | 'keyword' | 'hybrid';
const MODES: Mode[] = ['vector', 'keyword', 'hybrid'];

describe.each(backends)('retrieval quality on %s', (backend) => {
  let server: TestServer;
  let ws: TestWorkspace;
  const post = (path: string, body: unknown) => call(server.url, 'POST', path, { key: ws.liveKey, body });

  beforeAll(async () => {
    server = await startTestServer(backend);
    ws = await server.workspace('enterprise');
    expect((await post('/v1/context/sources', { name: 'help' })).status).toBe(201);
    const ingest = await post('/v1/context/sources/help/documents', {
      documents: Object.entries(CORPUS).map(([id, text]) => ({ external_id: id, text })),
    });
    expect(ingest.status).toBe(201);
    expect(ingest.body.data.every((d: { status: string; chunk_count: number }) => d.status === 'indexed' && d.chunk_count === 1)).toBe(true);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('hybrid search is at least as good as vector and keyword search alone, and better than one', async () => {
    const ranks: Record<Mode, Array<number | null>> = { vector: [], keyword: [], hybrid: [] };
    for (const { query, relevant } of CASES) {
      for (const mode of MODES) {
        const response = await post('/v1/context/query', { query, sources: ['help'], mode, top_k: 10 });
        expect(response.status).toBe(200);
        const ids: string[] = response.body.data.map((hit: { document: { external_id: string } }) => hit.document.external_id);
        const rank = ids.findIndex((id) => relevant.includes(id));
        ranks[mode].push(rank === -1 ? null : rank + 1);
      }
    }
    const recallAt5 = (mode: Mode) => ranks[mode].filter((rank) => rank !== null && rank <= 5).length / CASES.length;
    const mrr = (mode: Mode) => ranks[mode].reduce<number>((sum, rank) => sum + (rank === null ? 0 : 1 / rank), 0) / CASES.length;
    const report = MODES.map((mode) => `${mode}: recall@5 ${recallAt5(mode).toFixed(2)}, MRR ${mrr(mode).toFixed(3)} [${ranks[mode].map((r) => r ?? '-').join(' ')}]`);
    console.log(`retrieval quality (${backend})\n  ${report.join('\n  ')}`);

    for (const single of ['vector', 'keyword'] as const) {
      expect(recallAt5('hybrid'), report.join('; ')).toBeGreaterThanOrEqual(recallAt5(single));
      expect(mrr('hybrid'), report.join('; ')).toBeGreaterThanOrEqual(mrr(single));
    }
    expect(recallAt5('hybrid') > Math.min(recallAt5('vector'), recallAt5('keyword')), report.join('; ')).toBe(true);
    expect(mrr('hybrid') > Math.min(mrr('vector'), mrr('keyword')), report.join('; ')).toBe(true);
  });
});

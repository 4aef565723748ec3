import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Scalar's standalone reference bundle, served by KAIRO itself: the page loads nothing from elsewhere. */
const scalarBundle = createRequire(import.meta.url).resolve('@scalar/api-reference/browser/standalone.js');

/**
 * Everything the page may load comes from this server. Scalar sets its styles at run time
 * (hence `'unsafe-inline'` for styles only) and shows images and code samples as data/blob URLs.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>KAIRO API reference</title>
  <link rel="icon" href="data:,">
</head>
<body>
  <div id="kairo-api-reference"></div>
  <script src="/docs/assets/scalar.js"></script>
  <script src="/docs/assets/reference.js"></script>
</body>
</html>
`;

/** KAIRO's colours on Scalar's theme variables; the system font stack, so no font is fetched. */
const BRANDING_CSS = `
:root, .light-mode, .dark-mode {
  --scalar-font: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif;
  --scalar-font-code: ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace;
}
.light-mode { --scalar-color-accent: #4f46e5; --scalar-background-accent: #4f46e51a; }
.dark-mode { --scalar-color-accent: #a5b4fc; --scalar-background-accent: #a5b4fc1a; }
`;

/**
 * The options of the reference: the document this server serves, no default fonts, no
 * telemetry, no proxy and no developer tools, so that the page never talks to anything but KAIRO.
 */
const referenceOptions = {
  url: '/v1/openapi.json',
  withDefaultFonts: false,
  telemetry: false,
  showDeveloperTools: 'never',
  documentDownloadType: 'json',
  showOperationId: true,
  // The schemas appear where operations use them; a separate "Models" list would clash with the Models area.
  hideModels: true,
  persistAuth: false,
  metaData: { title: 'KAIRO API reference' },
  customCss: BRANDING_CSS,
};

const REFERENCE_SCRIPT = `Scalar.createApiReference('#kairo-api-reference', ${JSON.stringify(referenceOptions)});\n`;

function securePage(reply: FastifyReply): FastifyReply {
  return reply
    .header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'no-referrer');
}

/** `/docs`: the API reference, rendering /v1/openapi.json with Scalar's bundle served from /docs/assets. */
export function registerDocsPage(app: FastifyInstance): void {
  const hidden = { schema: { hide: true } };
  app.get('/docs', hidden, async (_request, reply) => securePage(reply).type('text/html; charset=utf-8').send(PAGE));
  app.get('/docs/assets/reference.js', hidden, async (_request, reply) =>
    securePage(reply).type('text/javascript; charset=utf-8').header('Cache-Control', 'no-cache').send(REFERENCE_SCRIPT));
  app.get('/docs/assets/scalar.js', hidden, async (_request, reply) =>
    securePage(reply).type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(fs.createReadStream(scalarBundle)));
}

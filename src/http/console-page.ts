import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * Where `npm run build` puts the console (vite build → dist/console). The same path from
 * src/http (running from source) and from dist/http (built): both are two levels below the root.
 */
export const CONSOLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/console');

/**
 * The console's paths: each answers the same page, whose script shows the page the path names
 * (the console routes in the browser). Anything else, /v1 above all, is not the console's.
 */
const CONSOLE_ROUTES = [
  '/', '/sign-in', '/overview', '/status', '/events', '/requests',
  '/agents', '/agents/*', '/runs', '/runs/*', '/workflows', '/workflows/*', '/context', '/context/*', '/settings', '/settings/*',
];

/**
 * Everything the console loads comes from this server, and it talks to nothing but it. React
 * and Recharts set styles through the DOM (not inline `style` attributes or `<style>`
 * elements), so styles need no `'unsafe-inline'` either.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>KAIRO console</title><link rel="icon" href="data:,"></head>
<body><main><h1>The console is not built</h1><p>Run <code>npm run build</code> in the KAIRO checkout, then restart the server.
The API is served as usual at <code>/v1</code>, its reference at <a href="/docs">/docs</a>.</p></main></body>
</html>
`;

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'no-referrer')
    .header('Cross-Origin-Opener-Policy', 'same-origin');
}

/** The built page, or undefined without a build (or while a build is replacing it). */
function readBuiltPage(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The console: the built single-page app at `/` and its routes, its hashed files under
 * `/assets/` (cached for good: a new build has new names). Without a build the console's paths
 * answer a page that says how to build it; the API is unaffected either way.
 */
export async function registerConsolePage(app: FastifyInstance, dir: string = CONSOLE_DIR): Promise<void> {
  const built = readBuiltPage(path.join(dir, 'index.html'));
  const page = built ?? NOT_BUILT_PAGE;
  const hidden = { schema: { hide: true } };
  for (const url of CONSOLE_ROUTES) {
    app.get(url, hidden, async (_request, reply) =>
      secure(reply).code(built === undefined ? 503 : 200).type('text/html; charset=utf-8').header('Cache-Control', 'no-cache').send(page));
  }
  if (built === undefined) return;
  await app.register(fastifyStatic, {
    root: path.join(dir, 'assets'),
    prefix: '/assets/',
    decorateReply: false,
    schemaHide: true,
    index: false,
    list: false,
    immutable: true,
    maxAge: '365d',
    setHeaders: (reply) => void secure(reply),
  });
}

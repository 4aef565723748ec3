import fs from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { registerConsolePage } from '../../src/http/console-page.js';
import { tempDir } from '../support/services.js';

/**
 * How the console's files are served, over real HTTP from the console's own routes: a build in
 * a directory of the test's making (the browser test serves the real build), and no build at all.
 */
describe('serving the console', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function serve(dir: string): Promise<string> {
    app = Fastify();
    await registerConsolePage(app, dir);
    return app.listen({ host: '127.0.0.1', port: 0 });
  }

  it('answers its page at each console route, its hashed files for good, and nothing else', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'assets'));
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><div id="root"></div><script type="module" src="/assets/index-abc123.js"></script>');
    fs.writeFileSync(path.join(dir, 'assets/index-abc123.js'), 'console.log("console")');
    const url = await serve(dir);

    for (const route of ['/', '/sign-in', '/runs/run_1', '/settings/budgets', '/workflows/wf_1/runs/wfrun_1', '/status']) {
      const response = await fetch(url + route);
      expect(response.status, route).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await response.text()).toContain('<div id="root"></div>');
    }
    const script = await fetch(`${url}/assets/index-abc123.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('javascript');
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(script.headers.get('content-security-policy')).toContain("default-src 'none'");
    for (const other of ['/assets/missing.js', '/assets/../index.html', '/v1/agents', '/favicon.ico', '/agentsx']) {
      expect((await fetch(url + other)).status, other).toBe(404);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('says how to build it when there is no build', async () => {
    const url = await serve(path.join(tempDir(), 'missing'));
    const response = await fetch(`${url}/overview`);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await response.text()).toContain('npm run build');
    expect((await fetch(`${url}/assets/index.js`)).status).toBe(404);
  });
});

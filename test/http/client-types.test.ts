/**
 * src/client/schema.ts, the types of the typed client, is what `npm run generate:client` makes
 * of the document a server serves now: a route or schema change without regenerating fails here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientTypesFile, clientTypesSource, withConditionalsAsUnions } from '../../scripts/generate-client-types.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { fetchOpenApi } from '../support/openapi.js';
import { repoRoot } from '../support/cli.js';

describe('the client types', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
  });
  afterAll(async () => server?.close());

  it('are generated from the served document as checked in (run `npm run generate:client` after an API change)', async () => {
    const generated = await clientTypesSource(await fetchOpenApi(server.url));
    const checkedIn = fs.readFileSync(clientTypesFile, 'utf8');
    // A plain equality first: a diff of two 16,000-line strings is unreadable, so the first differing line is named.
    const firstDifference = generated.split('\n').findIndex((line, i) => line !== checkedIn.split('\n')[i]);
    expect(firstDifference, `src/client/schema.ts differs from the served document at line ${firstDifference + 1}`).toBe(-1);
    expect(generated).toBe(checkedIn);
  }, 60_000);

  it('type a value chosen by `if`/`then` on its type as the union of the branches', () => {
    const schema = {
      type: 'object', required: ['type'], description: 'A tool.', properties: { type: { type: 'string', enum: ['a', 'b'] } },
      allOf: [
        { if: { properties: { type: { enum: ['a'] } } }, then: { $ref: '#/components/schemas/A' } },
        { if: { properties: { type: { enum: ['b'] } } }, then: { type: 'object', properties: { type: { enum: ['b'] } } } },
      ],
    };
    expect(withConditionalsAsUnions({ items: schema })).toEqual({
      items: { description: 'A tool.', oneOf: [{ $ref: '#/components/schemas/A' }, { type: 'object', properties: { type: { enum: ['b'] } } }] },
    });
    const plainAllOf = { allOf: [{ $ref: '#/components/schemas/A' }, { if: {}, then: {}, else: {} }] };
    expect(withConditionalsAsUnions(plainAllOf)).toEqual(plainAllOf);
  });

  it('are exported by the package as kairo/client, where the build writes the client and its declarations', () => {
    const read = (file: string) => JSON.parse(fs.readFileSync(path.join(repoRoot, file), 'utf8'));
    const pkg = read('package.json');
    expect(pkg.exports['./client']).toEqual({ types: './dist/client/index.d.ts', import: './dist/client/index.js' });
    expect(pkg.files).toContain('dist');
    expect(read('tsconfig.json').compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist', declaration: true });
    expect(fs.existsSync(path.join(repoRoot, 'src/client/index.ts'))).toBe(true);
  });
});

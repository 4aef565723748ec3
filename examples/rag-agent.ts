/**
 * Retrieval: an agent that answers from your own documents.
 *
 * 1. Uploads every file of examples/data/ (Markdown and text about a fictional product) into
 *    the context source `orbitly-docs`, one file at a time, and waits until all are indexed.
 * 2. Searches the source and prints the best chunks with their scores.
 * 3. Asks an agent with that source as its context, and prints the answer and the run's trace:
 *    the spans of the retrieval and the model call.
 *
 * Run it against a server in test mode (see examples/README.md):
 *   KAIRO_API_KEY=sk_test_… npx tsx examples/rag-agent.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConnectionError, Kairo, KairoError, NotFoundError } from 'kairo/client';

const baseUrl = process.env.KAIRO_URL ?? 'http://127.0.0.1:8080';
const apiKey = process.env.KAIRO_API_KEY ?? '';
if (!apiKey.startsWith('sk_test_')) fail('Set KAIRO_API_KEY to a test key (sk_test_…): the server prints one on its first start.');

const kairo = new Kairo({ baseUrl, apiKey });
const dataDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'data');
const contentTypes: Record<string, string> = { '.md': 'text/markdown', '.txt': 'text/plain' };
let lastProgress = '';

try {
  await main();
} catch (error) {
  fail(describeError(error));
}

async function main() {
  console.log(`Using KAIRO at ${baseUrl}`);
  const source = await findOrCreateSource('orbitly-docs');

  const files = fs.readdirSync(dataDir).filter((name) => name in contentTypes || path.extname(name) in contentTypes).sort();
  if (files.length === 0) throw new Error(`No .md or .txt files in ${dataDir}.`);
  const documentIds: string[] = [];
  for (const [i, name] of files.entries()) {
    progress(`Uploading ${i + 1}/${files.length}: ${name}`);
    const form = new FormData();
    // The file name becomes the document's external id: uploading it again replaces that document.
    form.append('file', await fs.openAsBlob(path.join(dataDir, name), { type: contentTypes[path.extname(name)] }), name);
    form.append('background', 'true');
    const uploaded = await kairo.post('/v1/context/sources/{id}/documents', {
      params: { path: { id: source.id } },
      body: {},
      bodySerializer: () => form,
    });
    documentIds.push(...uploaded.data.map((document) => document.id));
  }
  progress(`Uploaded ${files.length} files.`, true);

  await waitUntilIndexed(source.id, documentIds);

  const query = 'How much does the Team plan cost per technician?';
  console.log(`\nSearching "${source.name}" for: "${query}"`);
  const hits = await kairo.post('/v1/context/query', { body: { query, sources: [source.id], top_k: 3 } });
  for (const hit of hits.data) {
    const where = [hit.document.external_id ?? hit.document.title, hit.heading].filter(Boolean).join(' › ');
    console.log(`  ${hit.score.toFixed(4)}  ${where}: ${hit.text.replace(/\s+/g, ' ').slice(0, 90)}…`);
  }

  const agent = await kairo.post('/v1/agents', {
    body: { name: 'Orbitly helper', model: 'auto', context: [source.id], instructions: 'Answer questions about Orbitly from its documentation, citing it.' },
  });
  console.log(`\nAsking agent "${agent.name}" (${agent.id}): "${query}"`);
  const run = await kairo.post('/v1/agents/{id}/runs', { params: { path: { id: agent.id } }, body: { input: query } });
  if (run.status !== 'completed') throw new Error(`The run ended ${run.status}: ${run.error?.message ?? 'no error given'}`);
  console.log(`Answer: ${run.output}`);

  // Every run is a trace; its id is the run's id.
  const trace = await kairo.get('/v1/analytics/traces/{id}', { params: { path: { id: run.id } } });
  console.log(`\nTrace ${trace.id}: ${trace.duration_ms ?? '?'} ms, ${trace.spans.length} spans`);
  for (const span of trace.spans) {
    const details = span.type === 'retrieval' ? `${span.attributes.chunks} chunks, ${span.attributes.tokens} tokens`
      : span.type === 'model_call' ? `${span.attributes.input_tokens} tokens in, ${span.attributes.output_tokens} out`
      : '';
    console.log(`  ${span.type.padEnd(11)} ${span.name.padEnd(22)} ${String(span.duration_ms ?? '?').padStart(5)} ms  ${details}`);
  }
}

/** The source of that name, created the first time (names are unique in a workspace and mode). */
async function findOrCreateSource(name: string) {
  try {
    const source = await kairo.get('/v1/context/sources/{id}', { params: { path: { id: name } } });
    console.log(`Found context source "${name}" (${source.id}).`);
    return source;
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  const source = await kairo.post('/v1/context/sources', { body: { name, description: 'Orbitly product documentation' } });
  console.log(`Created context source "${name}" (${source.id}).`);
  return source;
}

/** Polls the uploaded documents until the job queue has indexed every one. */
async function waitUntilIndexed(sourceId: string, documentIds: string[]) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const documents = await Promise.all(documentIds.map((id) => kairo.get('/v1/context/sources/{id}/documents/{document_id}', { params: { path: { id: sourceId, document_id: id } } })));
    const failed = documents.find((document) => document.status === 'failed');
    if (failed) throw new Error(`Indexing ${failed.external_id} failed: ${failed.error?.message}`);
    const indexed = documents.filter((document) => document.status === 'indexed');
    progress(`Indexing: ${indexed.length}/${documents.length} documents indexed`);
    if (indexed.length === documents.length) {
      const chunks = indexed.reduce((sum, document) => sum + document.chunk_count, 0);
      progress(`Indexed ${indexed.length} documents into ${chunks} chunks.`, true);
      return;
    }
    if (Date.now() > deadline) throw new Error('The documents are still not indexed after 30 s.');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** One line that a terminal rewrites in place; elsewhere (a log, CI) each new state on a line of its own. */
function progress(line: string, done = false) {
  if (process.stdout.isTTY) {
    process.stdout.write(`\r\x1b[2K${line}${done ? '\n' : ''}`);
  } else if (line !== lastProgress) {
    console.log(line);
  }
  lastProgress = line;
}

function describeError(error: unknown): string {
  if (error instanceof ConnectionError) return `Could not reach KAIRO at ${baseUrl}: ${error.message} Is the server running? See examples/README.md.`;
  if (error instanceof KairoError) return `KAIRO answered ${error.status} ${error.code ?? ''}: ${error.message} (request ${error.requestId ?? 'unknown'})`;
  return error instanceof Error ? error.message : String(error);
}

function fail(message: string): never {
  if (process.stdout.isTTY && lastProgress) process.stdout.write('\n');
  console.error(`Failed: ${message}`);
  process.exit(1);
}

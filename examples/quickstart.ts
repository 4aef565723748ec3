/**
 * Quickstart: an agent that qualifies sales leads with what a CRM source knows.
 *
 * 1. Puts a short note about a lead into the context source `crm` and waits until it is indexed.
 * 2. Creates the agent { name: "Lead Qualifier", model: "auto", context: ["crm"] }.
 * 3. Runs it once and waits for the answer: prints it, the model "auto" chose and why, tokens and cost.
 * 4. Runs it again as a stream and prints the answer as it arrives.
 *
 * Run it against a server in test mode (see examples/README.md):
 *   KAIRO_API_KEY=sk_test_… npx tsx examples/quickstart.ts
 */
import { ConnectionError, Kairo, KairoError, NotFoundError } from 'kairo/client';

const baseUrl = process.env.KAIRO_URL ?? 'http://127.0.0.1:8080';
const apiKey = process.env.KAIRO_API_KEY ?? '';
if (!apiKey.startsWith('sk_test_')) fail('Set KAIRO_API_KEY to a test key (sk_test_…): the server prints one on its first start.');

const kairo = new Kairo({ baseUrl, apiKey });

try {
  await main();
} catch (error) {
  fail(describeError(error));
}

async function main() {
  console.log(`Using KAIRO at ${baseUrl}`);

  const source = await findOrCreateSource('crm');
  const [document] = (
    await kairo.post('/v1/context/sources/{id}/documents', {
      params: { path: { id: source.id } },
      body: {
        background: true,
        documents: [{
          external_id: 'acme-corp',
          title: 'Acme Corp',
          metadata: { stage: 'proposal', seats: 200 },
          text: 'Acme Corp wants 200 seats of our product. Their budget was approved in January and the decision is due in March. The buyer is the VP of Sales.',
        }],
      },
    })
  ).data;
  console.log(`Added the note "Acme Corp" to source "crm"; waiting for it to be indexed…`);
  const indexed = await waitUntilIndexed(source.id, document!.id);
  console.log(`Indexed: ${indexed.chunk_count} chunk(s), ${indexed.token_count} tokens.`);

  const agent = await kairo.post('/v1/agents', {
    body: { name: 'Lead Qualifier', model: 'auto', context: ['crm'], instructions: 'Qualify sales leads in two sentences, citing what the CRM says.' },
  });
  console.log(`\nCreated agent "${agent.name}" (${agent.id}).`);

  const input = 'Qualify Acme Corp: 200 seats, budget approved.';
  console.log(`\nRunning it once and waiting for the answer: "${input}"`);
  const run = await kairo.post('/v1/agents/{id}/runs', { params: { path: { id: agent.id } }, body: { input } });
  if (run.status !== 'completed') throw new Error(`The run ended ${run.status}: ${run.error?.message ?? 'no error given'}`);
  console.log(`Answer: ${run.output}`);
  console.log(`Model: ${run.model} — ${run.routing?.reason ?? 'chosen by the agent'}`);
  console.log(`Tokens: ${run.usage.input_tokens} in, ${run.usage.output_tokens} out (${run.usage.total_tokens} total)`);
  console.log(`Cost: $${run.cost_usd.toFixed(6)}${run.cost_notional ? ' (notional: test mode calls no provider)' : ''}`);

  const followUp = 'Which stage is the Acme Corp deal at?';
  console.log(`\nStreaming a second run: "${followUp}"`);
  process.stdout.write('Answer: ');
  let ending = '';
  for await (const event of kairo.streamAgentRun(agent.id, { input: followUp })) {
    if (event.event === 'run.output_text.delta') process.stdout.write(String(event.data.delta));
    if (event.event === 'run.completed' || event.event === 'run.failed' || event.event === 'run.cancelled') ending = event.event;
  }
  process.stdout.write('\n');
  if (ending !== 'run.completed') throw new Error(`The streamed run ended with ${ending || 'no final event'}.`);
  console.log('Stream ended with run.completed.');
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
  const source = await kairo.post('/v1/context/sources', { body: { name, description: 'Notes about sales leads' } });
  console.log(`Created context source "${name}" (${source.id}).`);
  return source;
}

/** Polls the document until the job queue has indexed it. */
async function waitUntilIndexed(sourceId: string, documentId: string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const document = await kairo.get('/v1/context/sources/{id}/documents/{document_id}', { params: { path: { id: sourceId, document_id: documentId } } });
    if (document.status === 'indexed') return document;
    if (document.status === 'failed') throw new Error(`Indexing failed: ${document.error?.message}`);
    if (Date.now() > deadline) throw new Error(`The document is still ${document.status} after 30 s.`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function describeError(error: unknown): string {
  if (error instanceof ConnectionError) return `Could not reach KAIRO at ${baseUrl}: ${error.message} Is the server running? See examples/README.md.`;
  if (error instanceof KairoError) return `KAIRO answered ${error.status} ${error.code ?? ''}: ${error.message} (request ${error.requestId ?? 'unknown'})`;
  return error instanceof Error ? error.message : String(error);
}

function fail(message: string): never {
  console.error(`Failed: ${message}`);
  process.exit(1);
}

/**
 * A workflow that waits for a person: a refund request is drafted by an agent, approved (or not)
 * by someone, and then put together into the final result.
 *
 * 1. Creates an agent and a workflow of three steps: `draft` (agent), `review` (approval) and
 *    `result` (transform).
 * 2. Starts a run as a stream and prints each event until the run waits for the approval.
 * 3. Approves it with data (who approved, the amount), follows the run to the end, and prints
 *    its output.
 *
 * Run it against a server in test mode (see examples/README.md):
 *   KAIRO_API_KEY=sk_test_… npx tsx examples/approval-workflow.ts
 */
import { ConnectionError, Kairo, KairoError, type RunEvent } from 'kairo/client';

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

  const agent = await kairo.post('/v1/agents', {
    body: { name: 'Refund writer', instructions: 'Draft a short, friendly reply to a customer about their refund.' },
  });
  console.log(`Created agent "${agent.name}" (${agent.id}).`);

  const prompt = 'Approve this refund and the drafted reply?';
  const workflow = await kairo.post('/v1/workflows', {
    body: {
      name: 'Refund with approval',
      input_schema: {
        type: 'object',
        properties: { customer: { type: 'string' }, amount_usd: { type: 'number' } },
        required: ['customer', 'amount_usd'],
      },
      steps: [
        { id: 'draft', type: 'agent', agent: agent.id, input: '"Draft a reply to " & input.customer & " about a refund of $" & $string(input.amount_usd)' },
        { id: 'review', type: 'approval', prompt, timeout: '1d' },
        {
          id: 'result',
          type: 'transform',
          expression: '{"customer": input.customer, "refund_usd": steps.review.amount_usd, "approved_by": steps.review.approved_by, "reply": steps.draft}',
        },
      ],
    },
  });
  console.log(`Created workflow "${workflow.name}" (${workflow.id}): draft → review → result.`);

  const input = { customer: 'Acme Corp', amount_usd: 120 };
  console.log(`\nStarting a run with ${JSON.stringify(input)}; its events:`);
  let runId = '';
  let lastEventId = 0;
  let waitingFor: unknown;
  for await (const event of kairo.streamWorkflowRun(workflow.id, { input })) {
    printEvent(event);
    runId ||= String(event.data.run_id ?? '');
    lastEventId = event.id;
    if (event.event === 'run.waiting') waitingFor = event.data.waiting_for;
  }
  if (waitingFor !== 'approval') throw new Error(`Expected the run to wait for an approval; it stopped after event ${lastEventId}.`);

  const waiting = await kairo.get('/v1/workflows/{id}/runs/{run_id}', { params: { path: { id: workflow.id, run_id: runId } } });
  const draft = waiting.steps?.find((step) => step.key === 'draft');
  console.log(`\nThe run ${runId} is ${waiting.status}. Step "review" asks: ${prompt}`);
  console.log(`The draft to review: ${draft?.output}`);

  const approval = { approved_by: 'dana@example.com', amount_usd: 100 };
  console.log(`\nApproving with ${JSON.stringify(approval)}…`);
  await kairo.post('/v1/workflows/{id}/runs/{run_id}/resume', { params: { path: { id: workflow.id, run_id: runId } }, body: { step: 'review', data: approval } });

  console.log('The run continues; its next events:');
  for await (const event of kairo.streamWorkflowRunEvents(workflow.id, runId, { lastEventId })) printEvent(event);

  const finished = await kairo.get('/v1/workflows/{id}/runs/{run_id}', { params: { path: { id: workflow.id, run_id: runId } } });
  if (finished.status !== 'completed') throw new Error(`The run ended ${finished.status}: ${finished.error?.message ?? 'no error given'}`);
  console.log(`\nThe run ${finished.status}. Its output:`);
  console.log(JSON.stringify(finished.output, null, 2));
}

function printEvent(event: RunEvent) {
  const step = typeof event.data.step_id === 'string' ? ` ${event.data.step_id}` : '';
  const waiting = event.event === 'run.waiting' ? ` (for ${event.data.waiting_for})` : '';
  console.log(`  ${String(event.id).padStart(2)} ${event.event}${step}${waiting}`);
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

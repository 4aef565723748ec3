import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { ConnectionError } from './errors.js';
import { sleep } from './retry.js';

/** The event types of agent runs (docs/agents.md) and workflow runs (docs/workflows.md). */
export type RunEventType =
  | 'run.created' | 'run.started' | 'run.output_text.delta' | 'run.tool_call.started' | 'run.tool_call.completed'
  | 'run.model_fallback' | 'run.requires_action' | 'run.waiting' | 'run.resumed' | 'run.completed' | 'run.failed' | 'run.cancelled'
  | 'step.started' | 'step.completed' | 'step.retrying' | 'step.failed' | 'step.waiting' | 'step.timed_out';

/** One event of a run's stream: `id` is its sequence number in the run's event log. */
export interface RunEvent {
  id: number;
  event: RunEventType | (string & {});
  data: { sequence: number; [field: string]: unknown };
}

/** After these the run never changes again: the stream is over. */
const FINAL_EVENTS: ReadonlySet<string> = new Set(['run.completed', 'run.failed', 'run.cancelled']);

function toRunEvent(message: EventSourceMessage): RunEvent {
  return { id: Number(message.id), event: message.event ?? 'message', data: JSON.parse(message.data) as RunEvent['data'] };
}

/**
 * The events of an event-stream body as they arrive. An event is only complete at its blank
 * line, so a connection cut mid-event yields none of it; a body that fails throws.
 */
export async function* readRunEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<RunEvent> {
  const arrived: RunEvent[] = [];
  const parser = createParser({ onEvent: (message) => arrived.push(toRunEvent(message)) });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      parser.feed(decoder.decode(value, { stream: true }));
      while (arrived.length > 0) yield arrived.shift()!;
    }
  } finally {
    // Stops the download when the caller leaves early; a no-op once the body has ended.
    await reader.cancel().catch(() => {});
  }
}

export interface FollowOptions {
  /** Opens the stream with the events after `lastEventId` (0: from the first). Throws on an error response. */
  connect(lastEventId: number): Promise<Response>;
  lastEventId: number;
  /** How many times in a row a stream may be lost without a new event before following gives up. */
  maxReconnects: number;
  /** The wait before reconnecting after the `attempt`th loss in a row (from 0). */
  backoff(attempt: number): number;
  /** Told of every event before it is handed on. */
  onEvent?(event: RunEvent): void;
  signal?: AbortSignal;
}

/**
 * A run's events, each once, in order, across lost connections: a stream that breaks off is
 * opened again with the id of the last event seen (the server's `Last-Event-ID`), which
 * replays what came after it. It ends at a final event; at the server's end of a stream that
 * stopped at `run.requires_action`; or when a reconnection brings nothing new (the run stopped
 * where the last stream ended, e.g. a workflow run waiting for an approval).
 */
export async function* followRunEvents(options: FollowOptions): AsyncGenerator<RunEvent> {
  let lastId = options.lastEventId;
  let lost = 0;
  for (;;) {
    const response = await options.connect(lastId);
    if (!response.body) throw new ConnectionError('The event stream had no body.', { status: response.status, headers: response.headers });
    let received = 0;
    let lastType: string | undefined;
    try {
      for await (const event of readRunEvents(response.body)) {
        if (event.id <= lastId) continue;
        lastId = event.id;
        lastType = event.event;
        received++;
        lost = 0;
        options.onEvent?.(event);
        yield event;
        if (FINAL_EVENTS.has(event.event)) return;
      }
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      if (lost >= options.maxReconnects) {
        throw new ConnectionError(`The event stream was lost after event ${lastId} and could not be resumed (${lost + 1} losses in a row).`, { cause: error });
      }
      await sleep(options.backoff(lost++), options.signal);
      continue;
    }
    if (received === 0 || lastType === 'run.requires_action') return;
  }
}

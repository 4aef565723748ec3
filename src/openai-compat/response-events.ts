import { functionCallItem, messageItem, responseView, type Answer, type ResponseStatus } from './views.js';

type ResponseHead = Parameters<typeof responseView>[0];

/** One server-sent event of a streamed response: its `type` is both the SSE event name and a field of the data. */
export interface ResponseEvent {
  type: string;
  sequence_number: number;
  [field: string]: unknown;
}

/**
 * The Responses API's stream events for one response, in OpenAI's order: `response.created` and
 * `response.in_progress`, the message item and its text part opened with the first delta, each
 * `response.output_text.delta`, then the parts and items closed, function calls as whole items,
 * and `response.completed` (or `response.failed`) with the whole response.
 */
export class ResponseEvents {
  private sequence = 0;
  private text = '';
  private messageOpen = false;

  constructor(private readonly head: ResponseHead) {}

  private event(type: string, fields: Record<string, unknown>): ResponseEvent {
    return { type, sequence_number: this.sequence++, ...fields };
  }

  start(): ResponseEvent[] {
    const response = responseView(this.head, 'in_progress');
    return [this.event('response.created', { response }), this.event('response.in_progress', { response })];
  }

  private openMessage(): ResponseEvent[] {
    this.messageOpen = true;
    const itemId = messageItem(this.head.id, '', 'in_progress').id;
    return [
      this.event('response.output_item.added', { output_index: 0, item: messageItem(this.head.id, '', 'in_progress') }),
      this.event('response.content_part.added', { item_id: itemId, output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }),
    ];
  }

  delta(delta: string): ResponseEvent[] {
    const opening = this.messageOpen ? [] : this.openMessage();
    this.text += delta;
    const itemId = messageItem(this.head.id, '', 'in_progress').id;
    return [...opening, this.event('response.output_text.delta', { item_id: itemId, output_index: 0, content_index: 0, delta, logprobs: [] })];
  }

  /** The closing events: `answer`'s text must be what the deltas added up to. */
  finish(answer: Answer, status: Extract<ResponseStatus, 'completed' | 'incomplete'>): ResponseEvent[] {
    const events: ResponseEvent[] = [];
    const hasMessage = answer.text !== '' || answer.toolCalls.length === 0;
    if (hasMessage) {
      if (!this.messageOpen) events.push(...this.openMessage());
      const item = messageItem(this.head.id, answer.text, 'completed');
      events.push(
        this.event('response.output_text.done', { item_id: item.id, output_index: 0, content_index: 0, text: answer.text, logprobs: [] }),
        this.event('response.content_part.done', { item_id: item.id, output_index: 0, content_index: 0, part: item.content[0] }),
        this.event('response.output_item.done', { output_index: 0, item }),
      );
    }
    answer.toolCalls.forEach((call, i) => {
      const item = functionCallItem(call);
      const outputIndex = i + (hasMessage ? 1 : 0);
      events.push(
        this.event('response.output_item.added', { output_index: outputIndex, item: { ...item, arguments: '', status: 'in_progress' } }),
        this.event('response.function_call_arguments.done', { item_id: item.id, output_index: outputIndex, arguments: item.arguments }),
        this.event('response.output_item.done', { output_index: outputIndex, item }),
      );
    });
    const response = responseView(this.head, status, answer);
    events.push(this.event(status === 'completed' ? 'response.completed' : 'response.incomplete', { response }));
    return events;
  }

  failed(error: { code: string; message: string }): ResponseEvent[] {
    return [this.event('response.failed', { response: responseView(this.head, 'failed', undefined, error) })];
  }
}

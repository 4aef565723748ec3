/** One server-sent event as KAIRO writes them: a sequence number, a type and a JSON payload. */
export interface SseEvent {
  id: number;
  event: string;
  data: any;
}

/** Fetches a server-sent event stream and reads it to its end (the server ends it at the run's terminal event). */
export async function readSse(url: string, init: RequestInit): Promise<{ status: number; headers: Headers; events: SseEvent[] }> {
  const response = await fetch(url, init);
  return { status: response.status, headers: response.headers, events: parseSse(await response.text()) };
}

/** The events of a stream's text; blocks without data (comments, keep-alives) are left out. */
export function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.includes('data:'))
    .map((block) => {
      const field = (name: string) => block.split('\n').find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2) ?? '';
      return { id: Number(field('id')), event: field('event'), data: JSON.parse(field('data')) };
    });
}

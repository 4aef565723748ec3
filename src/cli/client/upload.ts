import fs from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import type { Kairo } from '../../client/index.js';
// The typed client speaks JSON only; the multipart upload below goes through its openapi-fetch
// client (same key, retries and Idempotency-Key) and turns an error answer into the same typed error.
import { errorFromResponse } from '../../client/errors.js';
import { openSession, parseJsonObject, withClientOptions } from './connection.js';
import { UsageError, WorkFailedError, bytes, type Output } from './output.js';

interface Document {
  id: string;
  external_id: string | null;
  status: 'queued' | 'indexing' | 'indexed' | 'failed';
  chunk_count: number;
  token_count: number;
  error: { code: string; message: string } | null;
}

const isSettled = (document: Document) => document.status === 'indexed' || document.status === 'failed';
const POLL_MS = 500;

/**
 * A multipart body with form `fields` and one `file` part, read from disk as fetch sends it:
 * `sent` is told of each piece as fetch takes it, which is what the bar shows.
 */
function multipartBody(file: string, size: number, fields: Record<string, string>, sent: (n: number) => void) {
  const boundary = `kairo-${crypto.randomUUID()}`;
  const filename = path.basename(file).replace(/["\\\r\n]/g, '_');
  const formFields = Object.entries(fields).map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`).join('');
  // application/octet-stream lets the server decide the type by the file's extension.
  const head = Buffer.from(`${formFields}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  async function* pieces(): AsyncGenerator<Buffer> {
    yield head;
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 64 * 1024 })) yield chunk as Buffer;
    yield tail;
  }
  const iterator = pieces();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await iterator.next();
      if (done) return controller.close();
      sent(value.length);
      controller.enqueue(value);
    },
    async cancel() {
      await iterator.return(undefined);
    },
  });
  return { body, contentType: `multipart/form-data; boundary=${boundary}`, total: head.length + size + tail.length };
}

/**
 * Progress on stderr: bars on a terminal; elsewhere (a pipe, a log) one line when each
 * finishes, since a bar redrawn in place is noise in a file.
 */
class Progress {
  readonly #bars = process.stderr.isTTY ? new cliProgress.MultiBar({ format: '{label} |{bar}| {percentage}% {detail}', hideCursor: true, autopadding: true }, cliProgress.Presets.shades_classic) : undefined;

  bar(label: string, total: number) {
    const bar = this.#bars?.create(total, 0, { label, detail: '' });
    return {
      update: (value: number, detail: string) => bar?.update(value, { detail }),
      done: (detail: string) => {
        if (bar) bar.update(total, { detail });
        else process.stderr.write(`${label}: ${detail}\n`);
      },
    };
  }

  stop(): void {
    this.#bars?.stop();
  }
}

async function uploadFile(kairo: Kairo, source: string, file: string, options: { metadata?: string; background?: boolean }, progress: Progress): Promise<Document[]> {
  const size = fs.statSync(file).size;
  const bar = progress.bar(`upload ${path.basename(file)}`, 1);
  let sent = 0;
  const fields = { ...(options.metadata !== undefined ? { metadata: options.metadata } : {}), ...(options.background ? { background: 'true' } : {}) };
  const upload = multipartBody(file, size, fields, (n) => {
    sent += n;
    bar.update(sent / upload.total, `${bytes(Math.min(sent, upload.total))} / ${bytes(upload.total)}`);
  });
  const { data, error, response } = await kairo.api.POST('/v1/context/sources/{id}/documents', {
    params: { path: { id: source } },
    // A body must be given for the serializer to be called; the serializer sends the stream instead.
    body: {},
    bodySerializer: () => upload.body,
    headers: { 'Content-Type': upload.contentType },
    duplex: 'half',
  });
  if (!response.ok || !data) throw errorFromResponse(response, error);
  bar.done(`${bytes(upload.total)} sent`);
  return data.data as Document[];
}

/** Polls the documents until each is indexed or failed. */
async function waitForIndexing(kairo: Kairo, source: string, documents: Document[], progress: Progress): Promise<Document[]> {
  const current = [...documents];
  const bar = progress.bar('indexing', current.length);
  const settled = () => current.filter(isSettled).length;
  while (settled() < current.length) {
    bar.update(settled(), `${settled()}/${current.length} documents`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    for (const [i, document] of current.entries()) {
      if (isSettled(document)) continue;
      current[i] = (await kairo.get('/v1/context/sources/{id}/documents/{document_id}', { params: { path: { id: source, document_id: document.id } } })) as Document;
    }
  }
  const failed = current.filter((d) => d.status === 'failed').length;
  bar.done(`${current.length - failed} indexed${failed ? `, ${failed} failed` : ''}`);
  return current;
}

function showDocuments(documents: Document[], out: Output): void {
  out.table(documents, [
    ['id', (d) => d.id], ['document', (d) => d.external_id], ['status', (d) => d.status], ['chunks', (d) => d.chunk_count],
    ['tokens', (d) => d.token_count], ['error', (d) => (d.error ? `${d.error.code}: ${d.error.message}` : undefined)],
  ]);
}

/** `kairo context upload <source> <files...>`: one upload per file, then the indexing until done. */
export function registerUploadCommand(context: Command): void {
  withClientOptions(
    context
      .command('upload')
      .description('upload files to a documents source and wait until they are indexed (progress on stderr)')
      .argument('<source>', 'source name or id (src_…)')
      .argument('<files...>', 'text, Markdown, HTML, PDF, JSON or CSV files; a file name already in the source replaces that document')
      .option('--metadata <json>', 'a JSON object of metadata for every file')
      .option('--background', 'index through the job queue even when small')
      .option('--no-wait', 'do not wait for indexing: print the documents as the upload left them'),
  ).action(async (source: string, files: string[], options: { metadata?: string; background?: boolean; wait: boolean }, command: Command) => {
    const { kairo, out } = openSession(command);
    for (const file of files) {
      if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UsageError(`not a file: ${file}`);
    }
    const metadata = options.metadata === undefined ? undefined : JSON.stringify(parseJsonObject(options.metadata, '--metadata'));
    const progress = new Progress();
    let documents: Document[] = [];
    try {
      for (const file of files) documents.push(...(await uploadFile(kairo, source, file, { metadata, background: options.background }, progress)));
      if (options.wait) documents = await waitForIndexing(kairo, source, documents, progress);
    } finally {
      progress.stop();
    }
    out.result(documents, () => showDocuments(documents, out));
    const failed = documents.filter((d) => d.status === 'failed');
    if (failed.length > 0) {
      const first = failed[0]!;
      throw new WorkFailedError(first.error?.code ?? 'indexing_failed', `${failed.length} of ${documents.length} documents failed; ${first.external_id ?? first.id}: ${first.error?.message ?? ''}`);
    }
  });
}

import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyRequest } from 'fastify';
import type { UploadLimits } from '../../context/context-service.js';
import type { IngestItem } from '../../context/ingest.js';
import { KairoError } from '../../errors.js';

const MAX_FILES = 20;

/** Runs `work` with a fresh temporary directory for uploaded files (when `uploads`), removed afterwards whatever happens. */
export async function withUploadDir<T>(uploads: boolean, work: (dir: string | undefined) => Promise<T>): Promise<T> {
  if (!uploads) return work(undefined);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kairo-upload-'));
  try {
    return await work(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * Reads `file` parts and the optional `metadata` and `background` fields of a multipart upload.
 * Each file is streamed to a file in `dir` and counted as it arrives: the first byte over the
 * per-file or per-request limit ends the upload with a 413 naming the file and the setting, so
 * no upload is ever held whole in memory.
 */
export async function readMultipart(request: FastifyRequest, limits: UploadLimits, dir: string): Promise<{ items: IngestItem[]; background: boolean | undefined }> {
  const files: Array<{ path: string; size: number; filename: string; contentType: string }> = [];
  let metadata: Record<string, string | number | boolean> | undefined;
  let background: boolean | undefined;
  let total = 0;
  // busboy's own file limit is one byte above ours, so that the count below is what decides.
  for await (const part of request.parts({ limits: { files: MAX_FILES, fileSize: limits.maxFileBytes + 1, fields: 10, fieldSize: 100_000 } })) {
    if (part.type === 'file') {
      const index = files.length;
      const file = path.join(dir, `file-${index}`);
      let size = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          size += chunk.length;
          total += chunk.length;
          if (size > limits.maxFileBytes) {
            done(new KairoError('document_too_large', {
              message: `${part.filename || `File ${index + 1}`} is larger than the ${limits.maxFileBytes} bytes allowed per file (--max-file-bytes / KAIRO_MAX_FILE_BYTES).`,
              param: `files[${index}]`,
            }));
          } else if (total > limits.maxUploadBytes) {
            done(new KairoError('body_too_large', {
              message: `The files of this request add up to more than the ${limits.maxUploadBytes} bytes allowed per request (--max-upload-bytes / KAIRO_MAX_UPLOAD_BYTES).`,
              param: `files[${index}]`,
            }));
          } else done(null, chunk);
        },
      });
      await pipeline(part.file, counter, createWriteStream(file));
      files.push({ path: file, size, filename: part.filename || `file-${index + 1}`, contentType: part.mimetype });
      continue;
    }
    const value = typeof part.value === 'string' ? part.value : String(part.value);
    if (part.fieldname === 'metadata') metadata = parseMetadataField(value);
    else if (part.fieldname === 'background') background = value === 'true';
    else throw new KairoError('parameter_unknown', { message: `Unknown form field: ${part.fieldname}.`, param: part.fieldname });
  }
  if (files.length === 0) throw new KairoError('parameter_missing', { message: 'Attach at least one file part.', param: 'file' });
  return {
    items: files.map((f) => ({
      externalId: f.filename,
      filename: f.filename,
      file: { path: f.path, size: f.size },
      // Browsers send application/octet-stream for unknown types: let the extension decide.
      contentType: f.contentType === 'application/octet-stream' ? undefined : f.contentType,
      metadata,
    })),
    background,
  };
}

function parseMetadataField(value: string): Record<string, string | number | boolean> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new KairoError('parameter_invalid', { message: 'metadata must be a JSON object.', param: 'metadata' });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new KairoError('parameter_invalid', { message: 'metadata must be a JSON object.', param: 'metadata' });
  }
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length > 50) throw new KairoError('parameter_invalid', { message: 'metadata has more than 50 keys.', param: 'metadata' });
  for (const [key, v] of entries) {
    if (!['string', 'number', 'boolean'].includes(typeof v) || key.length > 100 || (typeof v === 'string' && v.length > 500)) {
      throw new KairoError('parameter_invalid', { message: `metadata.${key} must be a string (≤500 chars), number or boolean.`, param: `metadata.${key}` });
    }
  }
  return parsed as Record<string, string | number | boolean>;
}

import { ErrorCode, McpError, type ListResourcesResult, type ReadResourceResult, type ResourceTemplate } from '@modelcontextprotocol/sdk/types.js';
import { KairoError } from '../errors.js';
import { isId } from '../ids.js';
import type { ContextService } from '../context/context-service.js';
import { documentView, sourceView } from '../context/views.js';
import type { ContextSource, Scope } from '../store/port.js';

/** Sources per page of resources/list (its cursor is the last source id of the page before). */
const SOURCES_PER_PAGE = 100;
/** A source's resource lists its newest documents, this many at most. */
const DOCUMENTS_PER_SOURCE = 100;
/** A document's resource carries its text up to this many characters. */
export const MAX_DOCUMENT_TEXT_CHARS = 500_000;
/** MCP's code for a resource that does not exist. */
const RESOURCE_NOT_FOUND = -32002;

const SOURCE_URI = /^kairo:\/\/context\/sources\/([^/]+)$/;
const DOCUMENT_URI = /^kairo:\/\/context\/sources\/([^/]+)\/documents\/([^/]+)$/;

export const sourceUri = (sourceId: string) => `kairo://context/sources/${sourceId}`;
const documentUri = (sourceId: string, documentId: string) => `${sourceUri(sourceId)}/documents/${documentId}`;

export const contextResourceTemplates: ResourceTemplate[] = [
  {
    uriTemplate: 'kairo://context/sources/{source_id}',
    name: 'context-source',
    title: 'Context source',
    description: "A context source (by id or name): its settings, document counts and newest documents' metadata, as JSON.",
    mimeType: 'application/json',
  },
  {
    uriTemplate: 'kairo://context/sources/{source_id}/documents/{document_id}',
    name: 'context-document',
    title: 'Context document',
    description: `The text of one document of a context source (at most ${MAX_DOCUMENT_TEXT_CHARS} characters).`,
    mimeType: 'text/plain',
  },
];

/** Each context source of the workspace and mode as a resource, a page at a time. */
export async function listContextResources(context: ContextService, scope: Scope, cursor: string | undefined): Promise<ListResourcesResult> {
  if (cursor !== undefined && !isId('src', cursor)) throw new McpError(ErrorCode.InvalidParams, 'Invalid cursor: pass the nextCursor of the previous page.');
  const page = await context.sources.list(scope, { limit: SOURCES_PER_PAGE, after: cursor });
  return {
    resources: page.data.map((source) => ({
      uri: sourceUri(source.id),
      name: source.name,
      title: source.name,
      ...(source.description ? { description: source.description } : {}),
      mimeType: 'application/json',
    })),
    ...(page.hasMore ? { nextCursor: page.data.at(-1)!.id } : {}),
  };
}

/** A URI segment decoded; a malformed one names nothing. */
function decodeSegment(segment: string, uri: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new McpError(RESOURCE_NOT_FOUND, `No such resource: ${uri}.`);
  }
}

async function findSource(context: ContextService, scope: Scope, uri: string, idOrName: string): Promise<ContextSource> {
  try {
    return await context.sources.resolve(scope, decodeSegment(idOrName, uri));
  } catch (error) {
    if (error instanceof KairoError && error.code === 'resource_missing') throw new McpError(RESOURCE_NOT_FOUND, error.message);
    throw error;
  }
}

/** A source's resource: what `GET /v1/context/sources/{id}` shows, with its newest documents' metadata and their resource URIs. */
async function readSource(context: ContextService, scope: Scope, uri: string, idOrName: string): Promise<ReadResourceResult> {
  const source = await findSource(context, scope, uri, idOrName);
  const [[counts], documents] = await Promise.all([
    context.documents.counts([source]),
    context.documents.list(source, { limit: DOCUMENTS_PER_SOURCE }),
  ]);
  const body = {
    ...sourceView(source, counts!, Date.now()),
    documents: documents.data.map((document) => ({ uri: documentUri(source.id, document.id), ...documentView(document) })),
    documents_has_more: documents.hasMore,
  };
  return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(body) }] };
}

async function readDocument(context: ContextService, scope: Scope, uri: string, sourceIdOrName: string, documentId: string): Promise<ReadResourceResult> {
  const source = await findSource(context, scope, uri, sourceIdOrName);
  let document;
  try {
    document = await context.documents.get(scope, source, decodeSegment(documentId, uri));
  } catch (error) {
    if (error instanceof KairoError && error.code === 'resource_missing') throw new McpError(RESOURCE_NOT_FOUND, error.message);
    throw error;
  }
  const truncated = document.text.length > MAX_DOCUMENT_TEXT_CHARS;
  return {
    contents: [{
      uri,
      mimeType: 'text/plain',
      text: truncated ? document.text.slice(0, MAX_DOCUMENT_TEXT_CHARS) : document.text,
      _meta: { 'kairo/document_id': document.id, 'kairo/title': document.title, 'kairo/truncated': truncated },
    }],
  };
}

/** Reads a `kairo://context/sources/…` resource. */
export function readContextResource(context: ContextService, scope: Scope, uri: string): Promise<ReadResourceResult> {
  const document = DOCUMENT_URI.exec(uri);
  if (document) return readDocument(context, scope, uri, document[1]!, document[2]!);
  const source = SOURCE_URI.exec(uri);
  if (source) return readSource(context, scope, uri, source[1]!);
  throw new McpError(RESOURCE_NOT_FOUND, `No such resource: ${uri}. KAIRO's resources are kairo://context/sources/{source_id} and kairo://context/sources/{source_id}/documents/{document_id}.`);
}

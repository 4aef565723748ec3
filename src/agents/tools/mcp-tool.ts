/**
 * Tools of a remote MCP server, offered to the model under `<server_label>__<tool>` names.
 *
 * Only the Streamable HTTP transport is supported. Stdio servers are deliberately not: an agent
 * definition comes from API input, and a stdio server is a command line the platform would
 * execute on its own machine. (The legacy HTTP+SSE transport is not spoken either.)
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode as McpErrorCode, McpError, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { createAddressPolicy } from '../../net/address-policy.js';
import { isRetryableStatus } from '../../net/retryable-status.js';
import type { ResolveHost } from '../../net/safe-fetch.js';
import { version } from '../../version.js';
import { BlockedAddressError, createGuardedFetch, ResponseTooLargeError, type GuardedFetch } from './guarded-fetch.js';
import { schemaProblem, validateArguments } from './json-schema.js';
import type { ToolResult, ToolSpec } from './ports.js';
import { mcpToolName } from './validate.js';

/** Time one MCP request (initialize, a page of tools/list, a tools/call) may take by default. */
export const MCP_DEFAULT_TIMEOUT_MS = 30_000;
/** Cap on each HTTP response body from an MCP server, and on a call's output text, by default. */
export const MCP_DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
/** Pages of tools/list read at most; a server listing more is cut off there. */
const MAX_LIST_PAGES = 20;
const MAX_DESCRIPTION = 4096;
const CLOSE_GRACE_MS = 2_000;

export interface McpConnectOptions {
  /** The server's Streamable HTTP endpoint (http or https, no credentials in the URL). */
  serverUrl: string;
  /** Prefix of the names the tools are offered under. */
  serverLabel: string;
  /** The server's tool names that may be listed and called; every other tool is invisible. */
  allowedTools: readonly string[];
  /** Sent with every request, e.g. `Authorization`. */
  headers?: Record<string, string>;
  /**
   * The operator's outbound allow list (`config.outboundAllowCidrs`): as for every outbound
   * request, private, loopback and link-local addresses are refused unless inside one of these.
   */
  allowCidrs: readonly string[];
  /** Aborts connecting (rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Per request; default 30 s. */
  timeoutMs?: number;
  /** Per HTTP response body, and for a call's output text; default 1 MiB. */
  maxResponseBytes?: number;
  /** Name resolution; default the system resolver. Tests substitute it. */
  resolve?: ResolveHost;
}

/** Connecting to an MCP server, or listing its tools, failed. */
export class McpConnectionError extends Error {
  /** Whether connecting again may succeed: a timeout, a lost connection or network, a retryable HTTP status. */
  readonly retryable: boolean;

  constructor(
    readonly code: 'invalid_url' | 'address_blocked' | 'timeout' | 'too_large' | 'connect_failed',
    message: string,
    options?: { cause?: unknown; retryable?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'McpConnectionError';
    this.retryable = options?.retryable ?? false;
  }
}

/** Per request: how to fail it when its response body is cut off at the size cap. */
type RequestScope = AsyncLocalStorage<(error: ResponseTooLargeError) => void>;

interface ExposedTool {
  /** The name on the server. */
  serverName: string;
  spec: ToolSpec;
}

/**
 * A connection to one MCP server for the length of a run, exposing only its allowed tools.
 *
 * ```ts
 * const toolset = await McpToolset.connect({ serverUrl, serverLabel, allowedTools, headers, allowCidrs, signal });
 * try { toolset.listTools(); await toolset.callTool('crm__lookup', { email }); } finally { await toolset.close(); }
 * ```
 */
export class McpToolset {
  /** Allowed tools the server does not offer (not exposed; worth a warning). */
  readonly missingTools: readonly string[];
  private closing: Promise<void> | undefined;

  private constructor(
    readonly serverLabel: string,
    private readonly client: Client,
    private readonly transport: StreamableHTTPClientTransport,
    private readonly guarded: GuardedFetch,
    private readonly requestScope: RequestScope,
    private readonly tools: ReadonlyMap<string, ExposedTool>,
    missingTools: string[],
    private readonly limits: { timeoutMs: number; maxResponseBytes: number },
  ) {
    this.missingTools = missingTools;
  }

  /**
   * Connect, initialise and read the server's tool list once (all pages). Throws
   * McpConnectionError (`invalid_url`, `address_blocked`, `timeout`, `too_large`,
   * `connect_failed`) with a message naming the server, or the signal's reason on abort.
   */
  static async connect(options: McpConnectOptions): Promise<McpToolset> {
    const { serverLabel, signal } = options;
    signal?.throwIfAborted();
    const url = checkServerUrl(options.serverUrl, serverLabel);
    const timeoutMs = options.timeoutMs ?? MCP_DEFAULT_TIMEOUT_MS;
    const maxResponseBytes = options.maxResponseBytes ?? MCP_DEFAULT_MAX_RESPONSE_BYTES;
    const guarded = createGuardedFetch({
      policy: createAddressPolicy(options.allowCidrs),
      maxResponseBytes,
      ...(options.resolve ? { resolve: options.resolve } : {}),
    });

    // The SDK reads SSE responses in the background and only reports a broken stream, leaving
    // the request waiting for its timeout; the scope lets an oversized body fail the request
    // (whose async context started the fetch) at once.
    const requestScope: RequestScope = new AsyncLocalStorage();
    const transport = new StreamableHTTPClientTransport(url, {
      fetch: (input, init) => {
        // The standalone GET stream only carries server-initiated messages, which a run does not
        // use; answering it here saves an idle connection per server. Resumption GETs pass.
        if ((init?.method ?? 'GET').toUpperCase() === 'GET' && !new Headers(init?.headers).has('last-event-id')) {
          return Promise.resolve(new Response(null, { status: 405 }));
        }
        return guarded.fetch(input, init, requestScope.getStore());
      },
      requestInit: { headers: { ...options.headers } },
    });
    const client = new Client({ name: 'kairo', version }, { capabilities: {} });
    const connecting = new AbortController();
    const requestOptions = { timeout: timeoutMs, signal: signal ? AbortSignal.any([signal, connecting.signal]) : connecting.signal };

    try {
      await requestScope.run((error) => connecting.abort(error), () => client.connect(transport, requestOptions));
      const allowed = new Set(options.allowedTools);
      const tools = new Map<string, ExposedTool>();
      let cursor: string | undefined;
      for (let page = 0; page < MAX_LIST_PAGES; page++) {
        const params = cursor === undefined ? {} : { cursor };
        const listed = await requestScope.run((error) => connecting.abort(error), () => client.listTools(params, requestOptions));
        for (const tool of listed.tools) {
          if (!allowed.has(tool.name) || tools.has(mcpToolName(serverLabel, tool.name))) continue;
          const name = mcpToolName(serverLabel, tool.name);
          tools.set(name, { serverName: tool.name, spec: toSpec(name, tool) });
        }
        cursor = listed.nextCursor;
        if (cursor === undefined) break;
      }
      const found = new Set([...tools.values()].map((tool) => tool.serverName));
      const missing = options.allowedTools.filter((tool) => !found.has(tool));
      return new McpToolset(serverLabel, client, transport, guarded, requestScope, tools, missing, { timeoutMs, maxResponseBytes });
    } catch (error) {
      await client.close().catch(() => {});
      await guarded.destroy().catch(() => {});
      requestScope.disable();
      if (signal?.aborted) throw signal.reason;
      throw connectionError(connecting.signal.aborted ? connecting.signal.reason : error, { label: serverLabel, url, guarded, timeoutMs, maxResponseBytes });
    }
  }

  /** The allowed tools the server offers, as the model sees them. */
  listTools(): ToolSpec[] {
    return [...this.tools.values()].map((tool) => ({ ...tool.spec }));
  }

  /**
   * Call a tool by the name it is offered under (`<label>__<tool>`). A name not exposed (not on
   * the allow-list, or not offered by the server) is refused without contacting the server.
   * Arguments are checked against the tool's schema first. The result's output is the tool's
   * `structuredContent` when it has one, else its content joined as text (non-text items
   * described in brackets), cut to the size cap; `isError` gives `ok: false` with that text as
   * the error. Protocol, network and timeout failures are results with `ok: false` too; only an
   * abort of `options.signal` rejects (with its reason).
   */
  async callTool(name: string, args: unknown, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ToolResult> {
    const started = performance.now();
    const fail = (error: string, code: string): ToolResult => ({ ok: false, error, output: { error, code }, latencyMs: elapsed(started) });
    options.signal?.throwIfAborted();

    const tool = this.tools.get(name);
    if (!tool) return fail(`Tool '${name}' is not available from MCP server '${this.serverLabel}'.`, 'tool_not_allowed');
    if (this.closing) return fail(`The connection to MCP server '${this.serverLabel}' is closed.`, 'connection_closed');
    const check = validateArguments(tool.spec.parameters, args);
    if (!check.ok) return fail(`Invalid arguments: ${check.error}`, 'invalid_arguments');

    const timeoutMs = options.timeoutMs ?? this.limits.timeoutMs;
    const local = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, local.signal]) : local.signal;
    const params = { name: tool.serverName, arguments: args as Record<string, unknown> };
    let result: CallToolResult;
    try {
      result = (await this.requestScope.run(
        (error) => local.abort(error),
        () => this.client.callTool(params, undefined, { timeout: timeoutMs, signal }),
      )) as CallToolResult;
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      // The SDK turns an abort into a timeout error; the reason says what really happened.
      const described = describeError(local.signal.aborted ? local.signal.reason : error, { guarded: this.guarded, timeoutMs, maxResponseBytes: this.limits.maxResponseBytes });
      return fail(`MCP server '${this.serverLabel}': ${described.message}`, described.code);
    }

    const text = truncate(contentText(result.content ?? []), this.limits.maxResponseBytes);
    if (result.isError) return fail(text === '' ? `Tool '${name}' reported an error.` : text, 'tool_error');
    const output = result.structuredContent ?? text;
    return { ok: true, output, latencyMs: elapsed(started) };
  }

  /** End the session (DELETE, briefly awaited), close the client and drop every connection. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.transport.sessionId !== undefined) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          this.transport.terminateSession().catch(() => {}),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS))),
        ]);
        clearTimeout(timer);
      }
      await this.client.close().catch(() => {});
      await this.guarded.destroy().catch(() => {});
      // The async hook behind AsyncLocalStorage costs every promise of the process something;
      // it is switched off again once no toolset holds a scope.
      this.requestScope.disable();
    })();
    return this.closing;
  }
}

function checkServerUrl(raw: string, label: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new McpConnectionError('invalid_url', `MCP server '${label}': the server URL is not a valid URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new McpConnectionError('invalid_url', `MCP server '${label}': only http and https server URLs are supported.`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new McpConnectionError('invalid_url', `MCP server '${label}': the server URL must not contain credentials.`);
  }
  return url;
}

function toSpec(name: string, tool: Tool): ToolSpec {
  const description = tool.description ?? tool.title ?? '';
  // The server validates its own input; a schema Ajv cannot use is replaced by a permissive
  // one rather than making the tool uncallable.
  const parameters = schemaProblem(tool.inputSchema) === undefined ? (structuredClone(tool.inputSchema) as Record<string, unknown>) : { type: 'object' };
  return { name, description: description.slice(0, MAX_DESCRIPTION), parameters };
}

function contentText(content: CallToolResult['content']): string {
  return content
    .map((item) => {
      switch (item.type) {
        case 'text':
          return item.text;
        case 'resource':
          return 'text' in item.resource ? item.resource.text : `[resource ${item.resource.uri}${item.resource.mimeType ? ` (${item.resource.mimeType})` : ''}]`;
        case 'resource_link':
          return `[resource link ${item.uri}]`;
        case 'image':
          return `[image (${item.mimeType})]`;
        case 'audio':
          return `[audio (${item.mimeType})]`;
        default:
          return '';
      }
    })
    .filter((part) => part !== '')
    .join('\n');
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… [truncated]` : text;
}

function connectionError(
  error: unknown,
  context: { label: string; url: URL; guarded: GuardedFetch; timeoutMs: number; maxResponseBytes: number },
): McpConnectionError {
  const described = describeError(error, context);
  const code = described.code === 'address_blocked' || described.code === 'timeout' || described.code === 'too_large' ? described.code : 'connect_failed';
  const where = `${context.url.origin}${context.url.pathname}`;
  const retryable = ['timeout', 'connection_closed', 'network_error'].includes(described.code)
    || (described.code === 'http_error' && error instanceof StreamableHTTPError && error.code !== undefined && isRetryableStatus(error.code));
  return new McpConnectionError(code, `Could not connect to MCP server '${context.label}' at ${where}: ${described.message}`, { cause: error, retryable });
}

/** A short cause for a failed MCP request, and a code for it. */
function describeError(
  error: unknown,
  context: { guarded: GuardedFetch; timeoutMs: number; maxResponseBytes: number },
): { code: string; message: string } {
  for (let cause: unknown = error, depth = 0; cause instanceof Error && depth < 6; cause = cause.cause, depth++) {
    if (cause instanceof BlockedAddressError) return blocked();
    if (cause instanceof ResponseTooLargeError) return { code: 'too_large', message: cause.message + '.' };
  }
  // The SDK does not always keep the cause of a failed fetch; a refused host is remembered.
  if (context.guarded.blockedHosts.size > 0) return blocked();
  if (error instanceof McpError) {
    if (error.code === McpErrorCode.RequestTimeout) return { code: 'timeout', message: `no answer within ${context.timeoutMs} ms.` };
    if (error.code === McpErrorCode.ConnectionClosed) return { code: 'connection_closed', message: 'the connection closed.' };
    return { code: 'protocol_error', message: error.message };
  }
  if (error instanceof StreamableHTTPError) {
    // The SDK's message is "Streamable HTTP error: Error POSTing to endpoint: <body>".
    const detail = error.message.replace(/^Streamable HTTP error: /, '').slice(0, 300);
    return { code: 'http_error', message: error.code === undefined ? detail : `HTTP ${error.code} (${detail})` };
  }
  return { code: 'network_error', message: error instanceof Error ? describeNetworkError(error) : String(error) };

  function blocked(): { code: string; message: string } {
    return { code: 'address_blocked', message: 'the server address is private, loopback or otherwise non-public, which outbound requests may not reach.' };
  }
}

function describeNetworkError(error: Error): string {
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return cause ? `${error.message} (${code ?? cause.message})` : error.message;
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}

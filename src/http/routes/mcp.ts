import { Type } from 'typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { KairoError } from '../../errors.js';
import { createMcpServer } from '../../mcp/mcp-server.js';
import { authOf } from '../plugins/auth.js';
import { StrictObject } from '../schemas.js';
import type { AppDeps } from '../deps.js';

const AnyObject = Type.Object({}, { additionalProperties: true });

/** One JSON-RPC message (a request, a notification or a response), as MCP's Streamable HTTP transport takes it. */
const JsonRpcMessage = StrictObject({
  jsonrpc: Type.Literal('2.0'),
  id: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Integer()], { description: 'Present on requests and responses, absent on notifications.' })),
  method: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'initialize, tools/list, tools/call, resources/list, resources/read, …' })),
  params: Type.Optional(AnyObject),
  result: Type.Optional(AnyObject),
  error: Type.Optional(AnyObject),
}, {
  description: 'A JSON-RPC 2.0 message of the Model Context Protocol. Batches (arrays) are not taken: MCP no longer has them.',
  examples: [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }],
});

/** The headers of the request the MCP transport reads. */
const FORWARDED_HEADERS = ['content-type', 'mcp-protocol-version', 'mcp-session-id', 'last-event-id'];

/**
 * The request as the SDK's web-standard transport takes it. The answer is always JSON (the
 * transport runs with `enableJsonResponse`), so a client that does not list `text/event-stream`
 * in `Accept`, as the transport would require, can read it all the same: the rest of the API
 * does not look at `Accept` either.
 */
function toWebRequest(request: FastifyRequest): Request {
  const headers = new Headers({ accept: 'application/json, text/event-stream' });
  for (const name of FORWARDED_HEADERS) {
    const value = request.headers[name];
    if (typeof value === 'string') headers.set(name, value);
  }
  // The transport does not read the URL; a fixed one spares parsing the client's Host header.
  return new Request('http://kairo.invalid/v1/mcp', { method: request.method, headers });
}

/** The transport's refusals (an invalid message, an unsupported protocol version) in the standard error shape. */
async function refusalOf(response: Response): Promise<KairoError> {
  const text = await response.text();
  let message: string | undefined;
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof parsed.error?.message === 'string') message = parsed.error.message;
  } catch {
    // Not JSON: the status alone says what happened.
  }
  if (response.status >= 500) return new KairoError('internal_error');
  if (response.status === 415) return new KairoError('unsupported_media_type');
  return new KairoError('invalid_request', { message: `The MCP message was refused: ${message ?? `status ${response.status}`}.` });
}

/** The transport's answer sent through the reply, so the rate-limit headers, the request log and idempotency apply as on every route. */
async function send(reply: FastifyReply, response: Response): Promise<FastifyReply> {
  if (!response.ok) throw await refusalOf(response);
  const text = await response.text();
  reply.code(response.status);
  if (text === '') return reply.send();
  return reply.type(response.headers.get('content-type') ?? 'application/json').send(text);
}

/**
 * GET and DELETE only ever answer 405, so the document leaves them out (an operation without a
 * success response is no operation); the description of POST says so.
 */
const StatelessRefusal = {
  hide: true,
  description: 'This MCP server is stateless: it has no event stream to open (GET) and no session to end (DELETE). Answers 405 with `Allow: POST`.',
};

/** `/v1/mcp`: KAIRO as a Model Context Protocol server over Streamable HTTP (docs/mcp.md). */
export async function mcpRoutes(fastify: FastifyInstance, deps: AppDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const areas = { agents: deps.agents, workflows: deps.workflows, context: deps.context, version: deps.version };

  app.post('/v1/mcp', {
    schema: {
      operationId: 'mcp.send', tags: ['MCP'], summary: 'Send an MCP message',
      description: 'The Model Context Protocol endpoint (Streamable HTTP, stateless): one JSON-RPC message per request, answered with JSON ' +
        '(202 with no body for a notification or a response). Tools are the agents and workflows of the key\'s workspace and mode, ' +
        'resources its context sources; the key\'s permissions apply to each. The server is stateless: GET and DELETE answer 405 ' +
        '(no event stream, no session). See docs/mcp.md.',
      body: JsonRpcMessage,
      response: { 200: Type.Unknown({ description: 'The JSON-RPC response.' }), 202: Type.Null({ description: 'Accepted: no body.' }) },
    },
  }, async (request, reply) => {
    const caller = { auth: authOf(request), requestId: request.id, onRunCreated: (runId: string) => void (request.createdRunId = runId) };
    const server = createMcpServer(areas, caller);
    // Stateless: a server and a transport per request, so nothing is kept between requests.
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    try {
      await server.connect(transport);
      return await send(reply, await transport.handleRequest(toWebRequest(request), { parsedBody: request.body }));
    } finally {
      await server.close();
    }
  });

  const refuse = async () => {
    throw new KairoError('method_not_allowed', {
      message: 'This MCP server is stateless: send each message with POST /v1/mcp. There is no event stream to GET and no session to DELETE.',
      headers: { Allow: 'POST' },
    });
  };
  // Public: the refusal is the same for everyone, and an MCP client probing for a stream needs no key to learn there is none.
  const refused = { public: true, errors: ['method_not_allowed'] } as const;
  app.get('/v1/mcp', {
    config: refused, schema: { operationId: 'mcp.stream', tags: ['MCP'], summary: 'Open an MCP event stream (not offered)', ...StatelessRefusal },
  }, refuse);
  app.delete('/v1/mcp', {
    config: refused, schema: { operationId: 'mcp.terminate', tags: ['MCP'], summary: 'End an MCP session (not offered)', ...StatelessRefusal },
  }, refuse);
}

import { Option, type Command } from 'commander';
import { CLIENT_COMMANDS, collect, openSession, pageSize, parseCount, parseJsonObject, withClientOptions, withLimit } from './connection.js';
import { UsageError } from './output.js';
import { registerUploadCommand } from './upload.js';

interface SourceOptions {
  name: string;
  type: 'documents' | 'url' | 'http';
  page?: string[];
  http?: string;
  description?: string;
  embeddingModel?: string;
  refreshInterval?: string;
}

interface QueryOptions {
  sources?: string;
  topK?: string;
  mode?: 'hybrid' | 'vector' | 'keyword';
  filter?: string;
  maxTokens?: string;
}

/** The body of a source from the command line: a url source needs --url, an http source --http. */
function sourceBody(options: SourceOptions) {
  if (options.type === 'url' && !options.page?.length) throw new UsageError('a url source needs --page (the URL of one or more web pages).');
  if (options.type === 'http' && !options.http) throw new UsageError('an http source needs --http (its JSON settings, e.g. {"url": "…", "items_path": "data"}).');
  const refresh = parseCount(options.refreshInterval, '--refresh-interval', 60, 2_592_000);
  return {
    name: options.name,
    type: options.type,
    ...(options.page ? { urls: options.page } : {}),
    ...(options.http ? { http: parseJsonObject(options.http, '--http') as { url: string } } : {}),
    ...(options.description !== undefined ? { description: options.description } : {}),
    ...(options.embeddingModel ? { embedding_model: options.embeddingModel } : {}),
    ...(refresh !== undefined ? { refresh_interval_seconds: refresh } : {}),
  };
}

/** `kairo context sources create|list|get`, `kairo context upload` and `kairo context query`. */
export function registerContextCommands(program: Command): void {
  const context = program.command('context').description('context sources: create them, upload documents, search them').helpGroup(CLIENT_COMMANDS);
  const sources = context.command('sources').description('create, list and show context sources');

  withClientOptions(
    sources
      .command('create')
      .description('create a context source')
      .requiredOption('--name <name>', 'its name (letters, digits, _ . -), unique in the workspace')
      .addOption(new Option('--type <type>', 'documents (you upload them), url (web pages) or http (a JSON endpoint)').choices(['documents', 'url', 'http']).default('documents'))
      .option('--page <url...>', 'the web pages of a url source')
      .option('--http <json>', 'the settings of an http source, JSON (docs/context.md)')
      .option('--description <text>', 'what it holds')
      .option('--embedding-model <id>', 'fixed at creation (GET /v1/context/embedding_models)')
      .option('--refresh-interval <seconds>', 'how often a url or http source is fetched again (60 to 2592000)'),
  ).action(async (options: SourceOptions, command: Command) => {
    const { kairo, out } = openSession(command);
    const source = await kairo.post('/v1/context/sources', { body: sourceBody(options) });
    out.result(source, () => out.object(source));
  });

  withClientOptions(withLimit(sources.command('list').description('list context sources, newest first'), 'sources')).action(
    async (options: { limit: string }, command: Command) => {
      const { kairo, out } = openSession(command);
      const limit = parseCount(options.limit, '--limit', 1)!;
      const list = await collect(kairo.list('/v1/context/sources', { params: { query: { limit: pageSize(limit) } } }), limit);
      out.result(list, () =>
        out.table(list, [
          ['id', (s) => s.id], ['name', (s) => s.name], ['type', (s) => s.type], ['documents', (s) => s.counts.documents],
          ['chunks', (s) => s.counts.chunks], ['embedding model', (s) => s.embedding_model], ['created', (s) => s.created_at],
        ]),
      );
    },
  );

  withClientOptions(sources.command('get').description('show a context source').argument('<source>', 'source name or id (src_…)')).action(
    async (id: string, _options: unknown, command: Command) => {
      const { kairo, out } = openSession(command);
      const source = await kairo.get('/v1/context/sources/{id}', { params: { path: { id } } });
      out.result(source, () => out.object(source));
    },
  );

  registerUploadCommand(context);

  withClientOptions(
    context
      .command('query')
      .description('search context sources and print the best chunks with their scores')
      .argument('<source-or-question>', 'a source name or id, then the question; or only the question, with --sources or for every source')
      .argument('[question]', 'the question, after a source')
      .option('--sources <list>', 'comma-separated source names or ids (default: every source)')
      .option('--top-k <n>', 'how many chunks (1 to 100)', '5')
      .addOption(new Option('--mode <mode>', 'hybrid (default), vector or keyword').choices(['hybrid', 'vector', 'keyword']))
      .option('--filter <json>', 'conditions on document metadata, JSON, e.g. {"year": {"gte": 2024}}')
      .option('--max-tokens <n>', 'also print a context window of the best chunks within this many tokens'),
  ).action(async (first: string, second: string | undefined, options: QueryOptions, command: Command) => {
    const { kairo, out } = openSession(command);
    if (second !== undefined && options.sources) throw new UsageError('name the sources either before the question or with --sources, not both.');
    const question = second ?? first;
    const named = second !== undefined ? [first] : options.sources?.split(',').map((s) => s.trim()).filter(Boolean);
    const maxTokens = parseCount(options.maxTokens, '--max-tokens', 1, 1_000_000);
    const body = {
      query: question,
      top_k: parseCount(options.topK, '--top-k', 1, 100),
      ...(named && named.length > 0 ? { sources: named } : {}),
      ...(options.mode ? { mode: options.mode } : {}),
      ...(options.filter ? { filter: parseJsonObject(options.filter, '--filter') as Record<string, string> } : {}),
      ...(maxTokens !== undefined ? { max_tokens: maxTokens } : {}),
    };
    const result = await kairo.post('/v1/context/query', { body });
    out.result(result, () => {
      if (result.data.length === 0) out.line('(no chunks matched)');
      result.data.forEach((hit, i) => {
        const where = [hit.document.external_id ?? hit.document.title ?? hit.document.id, hit.heading].filter(Boolean).join(' › ');
        out.line(`${out.bold(`[${i + 1}]`)} ${hit.score.toFixed(4)}  ${where}  ${out.dim(`(${hit.source.name}, ${hit.id})`)}`);
        out.line(`    ${hit.text.trim().replace(/\n/g, '\n    ')}`);
      });
      if (result.window) {
        out.line();
        out.line(out.bold(`Context window (${result.window.token_count} of ${result.window.max_tokens} tokens):`));
        out.line(result.window.text);
      }
    });
  });
}

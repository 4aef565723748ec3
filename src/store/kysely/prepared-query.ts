import type { Compilable, CompiledQuery, DialectAdapter, Kysely, QueryResult } from 'kysely';
import type { Database } from '../schema.js';

/** Starts every placeholder value while a query is built; never reaches the database. */
const PLACEHOLDER = '\u0000kairo-param:';

/** Where a compiled query's parameter comes from: a named value of the call, or a constant of the query. */
type Slot = { param: string } | { constant: unknown };

interface Compiled {
  query: CompiledQuery;
  slots: Slot[];
}

/**
 * A query of fixed shape whose values vary, built and compiled by Kysely once per database and
 * then run as compiled SQL with each call's values: building and compiling a query costs more
 * CPU than SQLite spends running most of ours, and these run with every agent and workflow run.
 *
 * `build` gets placeholders for the values (`params.id` and so on) and must hand each one to the
 * query unchanged, as a value — not transformed, not inlined into the SQL. Anything else in the
 * query is a constant of every call. Compiling checks this and throws, so a misuse fails on its
 * first run in any test. Runs through the given executor (the database or a transaction), so
 * it joins the transaction; the compiled form is kept per dialect (one Kysely instance and its
 * transactions share it), so one definition serves every store of the process.
 */
export class PreparedQuery<P extends object, R> {
  private readonly compiled = new WeakMap<DialectAdapter, Compiled>();

  constructor(private readonly build: (db: Kysely<Database>, params: P) => Compilable<R>) {}

  /** Runs the query with `params`; undefined values are bound as SQL NULL. */
  execute(db: Kysely<Database>, params: P): Promise<QueryResult<R>> {
    const { query, slots } = this.compiledFor(db);
    const values = params as Record<string, unknown>;
    const parameters = slots.map((slot) => ('param' in slot ? values[slot.param] ?? null : slot.constant));
    return db.executeQuery<R>({ ...query, parameters } as CompiledQuery<R>);
  }

  async rows(db: Kysely<Database>, params: P): Promise<R[]> {
    return (await this.execute(db, params)).rows;
  }

  async first(db: Kysely<Database>, params: P): Promise<R | undefined> {
    return (await this.execute(db, params)).rows[0];
  }

  /** Rows inserted, updated or deleted. */
  async affectedRows(db: Kysely<Database>, params: P): Promise<number> {
    return Number((await this.execute(db, params)).numAffectedRows ?? 0n);
  }

  private compiledFor(db: Kysely<Database>): Compiled {
    const adapter = db.getExecutor().adapter;
    let compiled = this.compiled.get(adapter);
    if (compiled === undefined) {
      compiled = compileWithPlaceholders(db, this.build);
      this.compiled.set(adapter, compiled);
    }
    return compiled;
  }
}

export const preparedQuery = <P extends object, R>(build: (db: Kysely<Database>, params: P) => Compilable<R>): PreparedQuery<P, R> =>
  new PreparedQuery(build);

/**
 * Prepared queries whose shape depends on a small, fixed set of choices (which statuses an
 * update may start from, say): one per choice, made on first use.
 */
export function preparedVariants<K extends string, P extends object, R>(make: (key: K) => PreparedQuery<P, R>): (key: K) => PreparedQuery<P, R> {
  const variants = new Map<K, PreparedQuery<P, R>>();
  return (key) => {
    let query = variants.get(key);
    if (query === undefined) {
      query = make(key);
      variants.set(key, query);
    }
    return query;
  };
}

/** The subset of `params` named by `keys`, for building an insert or update from a row's placeholders. */
export function pick<P extends object, K extends keyof P>(params: P, keys: readonly K[]): Pick<P, K> {
  const picked = {} as Pick<P, K>;
  for (const key of keys) picked[key] = params[key];
  return picked;
}

function compileWithPlaceholders<P extends object, R>(db: Kysely<Database>, build: (db: Kysely<Database>, params: P) => Compilable<R>): Compiled {
  const used = new Set<string>();
  const placeholders = new Proxy({} as P, {
    get: (_target, name) => {
      if (typeof name !== 'string') return undefined;
      used.add(name);
      return PLACEHOLDER + name;
    },
  });
  const query = build(db, placeholders).compile();
  const slots = query.parameters.map((value): Slot => {
    if (typeof value !== 'string' || !value.includes(PLACEHOLDER)) return { constant: value };
    const name = value.slice(PLACEHOLDER.length);
    if (!value.startsWith(PLACEHOLDER) || !used.has(name)) throw new Error(`Prepared query: a placeholder was transformed before reaching the query (${query.sql})`);
    return { param: name };
  });
  const bound = new Set(slots.flatMap((slot) => ('param' in slot ? [slot.param] : [])));
  const unbound = [...used].filter((name) => !bound.has(name));
  if (query.sql.includes(PLACEHOLDER) || unbound.length > 0) {
    throw new Error(`Prepared query: ${unbound.join(', ') || 'a value'} did not reach the query as a parameter (${query.sql})`);
  }
  return { query, slots };
}

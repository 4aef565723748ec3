/** The list envelope of every list endpoint (docs/api.md, "Pagination"). */
export interface ListPage<T> {
  data: T[];
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}

type Query = Record<string, unknown>;

/**
 * Every object of a list, page after page. Lists are newest first: it walks to older objects
 * with `after=<last_id>`, or, when the first query has `before`, to newer ones with
 * `before=<first_id>`, until a page says `has_more: false`.
 */
export async function* paginate<T>(fetchPage: (query: Query) => Promise<ListPage<T>>, query: Query = {}): AsyncGenerator<T> {
  const cursor = query.before === undefined ? 'after' : 'before';
  let next = query;
  for (;;) {
    const page = await fetchPage(next);
    yield* page.data;
    const id = cursor === 'after' ? page.last_id : page.first_id;
    if (!page.has_more || id === null) return;
    next = { ...next, [cursor]: id };
  }
}

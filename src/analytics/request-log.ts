import { KairoError } from '../errors.js';
import { isId } from '../ids.js';
import type { Page, PageRequest, RequestLogFilter, RequestRecord, Scope, Store } from '../store/port.js';

/** The request log as the API reads it: a scope's requests, newest first, narrowed by filter. */
export class RequestLog {
  constructor(private readonly store: Store) {}

  list(scope: Scope, filter: RequestLogFilter, page: PageRequest): Promise<Page<RequestRecord>> {
    if (filter.from !== undefined && filter.to !== undefined && filter.to <= filter.from) {
      throw new KairoError('parameter_invalid', { param: 'end', message: 'end must be after start.' });
    }
    return this.store.requestLog.list(scope, filter, page);
  }

  async get(scope: Scope, id: string): Promise<RequestRecord> {
    const record = isId('req', id) ? await this.store.requestLog.get(scope, id) : undefined;
    if (!record) throw new KairoError('resource_missing', { param: 'id', message: `No such request: '${id}'. The log keeps requests for a limited time, written about a second after they end.` });
    return record;
  }
}

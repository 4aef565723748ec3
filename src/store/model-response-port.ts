/** The storage port of model responses: what `POST /v1/responses` answered for a model, kept to be retrieved. */
import type { Scope } from './platform-port.js';

export interface StoredModelResponse {
  id: string;
  scope: Scope;
  /** The response object as the API answered it. */
  body: Record<string, unknown>;
  createdAt: number;
}

export interface ModelResponseRepo {
  create(response: StoredModelResponse): Promise<void>;
  get(scope: Scope, id: string): Promise<StoredModelResponse | undefined>;
  /** Deletes up to `limit` responses created before `before`; how many it deleted. */
  purge(before: number, limit: number): Promise<number>;
}

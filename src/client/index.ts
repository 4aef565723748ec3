/**
 * The typed KAIRO client, exported by the package as `kairo/client` (docs/client.md).
 */
export { Kairo, type KairoOptions, type RunStreamOptions, type StreamOptions } from './client.js';
export {
  KairoError, InvalidRequestError, AuthenticationError, PermissionDeniedError, NotFoundError, ConflictError, RateLimitError,
  ApiServerError, ConnectionError, ConnectionTimeoutError, type ErrorCode, type ErrorDetail, type ErrorType,
} from './errors.js';
export type { RunEvent, RunEventType } from './sse.js';
export type { ListPage } from './pagination.js';
export type { Api, Body, Data, ListItem, ListPath, PathWith } from './paths.js';
export type { components, operations, paths } from './schema.js';

import type { components } from './schema.js';
/** The schemas of the OpenAPI document by name, e.g. `Schemas['ErrorResponse']`. */
export type Schemas = components['schemas'];

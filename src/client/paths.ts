import type { Client, ClientPathsWithMethod, FetchResponse, MaybeOptionalInit } from 'openapi-fetch';
import type { paths } from './schema.js';
import type { ListPage } from './pagination.js';

/** The openapi-fetch client over the generated `paths`, JSON bodies only. */
export type Api = Client<paths, 'application/json'>;
export type Method = 'get' | 'put' | 'post' | 'patch' | 'delete';
/** The paths that have an operation for `M`. */
export type PathWith<M extends Method> = ClientPathsWithMethod<Api, M>;
/** The options of a call (`params`, `body`, `headers`, `signal`…), as openapi-fetch takes them. */
export type Init<P extends keyof paths, M extends Method> = MaybeOptionalInit<paths[P], M>;

type RequiredKeysOf<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? never : K }[keyof T];
/** The options argument: optional unless the operation requires a path parameter, a query or a body. */
export type InitArgs<I> = RequiredKeysOf<I> extends never ? [init?: I & { [key: string]: unknown }] : [init: I & { [key: string]: unknown }];

type SuccessData<R> = R extends { data: infer D; error?: never } ? D : never;
/** What a successful call answers, as the document declares it. */
export type Data<P extends keyof paths, M extends Method, I> = SuccessData<FetchResponse<NonNullable<paths[P][M]>, I, 'application/json'>>;

type JsonOk<Op> = Op extends { responses: { 200: { content: { 'application/json': infer Body } } } } ? Body : never;
type ListOperation = { parameters: { query?: { after?: string } } };
/** The GET paths that answer a list page and take the `after` cursor. */
export type ListPath = {
  [P in PathWith<'get'>]: paths[P]['get'] extends ListOperation ? (JsonOk<paths[P]['get']> extends ListPage<unknown> ? P : never) : never;
}[PathWith<'get'>];
/** The objects a list path lists. */
export type ListItem<P extends ListPath> = JsonOk<paths[P]['get']> extends ListPage<infer T> ? T : never;

/** The JSON body of an operation. */
export type Body<P extends keyof paths, M extends Method> = paths[P][M] extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;

/**
 * `host:port` of a service URL (Redis, PostgreSQL) for messages: never the credentials the URL
 * may carry. `defaultPort` stands in when the URL names none.
 */
export function serviceAddress(url: string, defaultPort: number): string {
  try {
    const parsed = new URL(url);
    if (!parsed.hostname) return 'the configured address';
    return `${parsed.hostname}:${parsed.port || defaultPort}`;
  } catch {
    return 'the configured address';
  }
}

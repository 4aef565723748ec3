/** Times as the API writes them: RFC 3339, UTC, milliseconds. */
export const toTimestamp = (ms: number): string => new Date(ms).toISOString();
export const toNullableTimestamp = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** How domain values are stored in columns and read back, alike on both databases. */
import type { Scope } from '../port.js';

/** The `livemode` column: booleans are stored as 0/1 integers. */
export const mode = (livemode: boolean): number => (livemode ? 1 : 0);

export const scopeOf = (row: { workspace_id: string; livemode: number }): Scope => ({ workspaceId: row.workspace_id, livemode: Number(row.livemode) === 1 });

/** A JSON column's value; SQL NULL reads as null. */
export const json = <T>(text: string | null): T => (text === null ? (null as T) : (JSON.parse(text) as T));

/** JSON text of a value that may be undefined (stored as JSON null). */
export const jsonText = (value: unknown): string => JSON.stringify(value ?? null);

export const num = (value: number | null): number | null => (value === null ? null : Number(value));

/**
 * A table's columns, listed in full: the compiler rejects a list that misses one of `Row`'s
 * columns, so a column added to the table cannot be left out of the statements built from it.
 */
export const everyColumn =
  <Row>() =>
  <const C extends ReadonlyArray<keyof Row & string>>(columns: C & (Exclude<keyof Row, C[number]> extends never ? unknown : never)): C =>
    columns;

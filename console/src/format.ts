/** How the console writes numbers, money, sizes and times. */

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

export const formatNumber = (value: number | null | undefined): string => (value == null ? '—' : integer.format(value));

export const formatDecimal = (value: number | null | undefined): string => (value == null ? '—' : decimal.format(value));

export function formatUsd(value: number | null | undefined): string {
  if (value == null) return '—';
  const digits = value !== 0 && Math.abs(value) < 0.01 ? 6 : 2;
  return `$${value.toFixed(digits)}`;
}

export function formatMs(value: number | null | undefined): string {
  if (value == null) return '—';
  if (value < 10) return `${decimal.format(value)} ms`;
  if (value < 1000) return `${integer.format(value)} ms`;
  return `${decimal.format(value / 1000)} s`;
}

export function formatBytes(value: number | null | undefined): string {
  if (value == null) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit++;
  }
  return `${unit === 0 ? size : size.toFixed(1)} ${units[unit]}`;
}

export const formatPercent = (value: number | null | undefined): string => (value == null || Number.isNaN(value) ? '—' : `${decimal.format(value)} %`);

export function formatDate(value: string | null | undefined): string {
  if (!value) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });
}

/** A bucket's start as an axis label: the time of day for minute and hour buckets, the date for days. */
export function formatBucket(value: string, width: '1m' | '1h' | '1d'): string {
  const date = new Date(value);
  if (width === '1d') return date.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' });
  return date.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
}

/** JSON as the console shows it: indented, or the text itself for a string. */
export function formatJson(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value, null, 2) ?? 'null';
}

/** Parses a JSON text field; the message names the field when it is not JSON. */
export function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${field} is not valid JSON: ${(error as Error).message}`);
  }
}

import { parse } from 'csv-parse/sync';
import { DocumentParseError, type ParsedDocument } from '../ports.js';

const CANDIDATE_DELIMITERS = [',', ';', '\t', '|'];

/**
 * A table as text: a `Columns: a; b; c` line naming the header row, then one line per record,
 * `a: 1; b: 2` (empty cells left out). The delimiter is detected from the header line unless
 * given (TSV). Throws `document_unreadable` when the file is not parseable CSV, and
 * `document_too_large` as soon as it has read more than `maxCells` cells.
 */
export function parseCsv(source: string, maxCells: number, delimiter?: string): ParsedDocument {
  let rows: string[][];
  let cells = 0;
  const overLimit = () =>
    new DocumentParseError('document_too_large', `The table has more than the ${maxCells} cells (rows × columns) allowed (--max-csv-cells / KAIRO_MAX_CSV_CELLS).`);
  try {
    rows = parse(source, {
      // Counted as records are read, so an oversized table stops early rather than after parsing.
      on_record: (record: string[]) => {
        cells += record.length;
        if (cells > maxCells) throw overLimit();
        return record;
      },
      delimiter: delimiter ?? detectDelimiter(source),
      bom: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      trim: true,
    }) as string[][];
  } catch (error) {
    if (cells > maxCells) throw overLimit();
    throw new DocumentParseError('document_unreadable', `The CSV could not be parsed: ${error instanceof Error ? error.message : String(error)}`);
  }
  const [header, ...records] = rows;
  if (!header) return { title: null, text: '' };
  const columns = header.map((name, i) => oneLine(name) || `column ${i + 1}`);
  const lines = [`Columns: ${columns.join('; ')}`, ''];
  for (const record of records) {
    const cells = record
      .map((value, i) => [columns[i] ?? `column ${i + 1}`, oneLine(value)] as const)
      .filter(([, value]) => value !== '')
      .map(([column, value]) => `${column}: ${value}`);
    if (cells.length > 0) lines.push(cells.join('; '));
  }
  return { title: null, text: lines.join('\n') };
}

function oneLine(value: string): string {
  return value.replace(/\s+/g, ' ').trim();
}

/** The candidate that occurs most often in the first line, outside quotes; comma on a tie. */
function detectDelimiter(source: string): string {
  const firstLine = (source.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '').replace(/"[^"]*"/g, '');
  let best = ',';
  let bestCount = 0;
  for (const candidate of CANDIDATE_DELIMITERS) {
    const count = firstLine.split(candidate).length - 1;
    if (count > bestCount) {
      best = candidate;
      bestCount = count;
    }
  }
  return best;
}

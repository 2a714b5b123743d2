import type { QueryResult } from './engine.js';

/** Longest cell a terminal table shows; `--json` and `--csv` always give whole values. */
const MAX_CELL = 60;

/** A value as text: JSON text and exact numbers as DuckDB gave them, lists and structs as JSON. */
function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** A value inside a JSON object: JSON columns and exact numbers unquoted, as their text. */
function jsonValue(value: unknown, type: QueryResult['types'][number] | undefined): string {
  if (value === null || value === undefined) return 'null';
  if (
    typeof value === 'string' &&
    (type?.json || (type?.exactNumber && /^-?\d+(\.\d+)?$/.test(value)))
  ) {
    return value;
  }
  return JSON.stringify(value);
}

/** One JSON object per row, one per line (NDJSON), keys in column order. */
export function jsonLines(result: QueryResult): string {
  return result.rows
    .map(
      (row) =>
        `{${result.columns.map((column, i) => `${JSON.stringify(column)}:${jsonValue(row[i], result.types[i])}`).join(',')}}\n`,
    )
    .join('');
}

/** RFC 4180 CSV with a header row; a field is quoted when it holds a comma, quote or line break. */
export function csvText(result: QueryResult): string {
  const field = (value: string) =>
    /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
  const lines = [result.columns.map(field).join(',')];
  for (const row of result.rows) lines.push(row.map((value) => field(text(value))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** A table for a terminal: aligned columns, long cells cut with `…`, and the row count. */
export function tableText(result: QueryResult): string {
  const cell = (value: unknown) => {
    const one = text(value).replace(/[\r\n\t]/g, ' ');
    return one.length > MAX_CELL ? `${one.slice(0, MAX_CELL - 1)}…` : one;
  };
  const body = result.rows.map((row) => row.map(cell));
  const widths = result.columns.map((column, i) =>
    Math.max(column.length, ...body.map((row) => (row[i] ?? '').length)),
  );
  const numeric = result.types.map((type) => type.exactNumber || /^(DOUBLE|FLOAT)/.test(type.name));
  const line = (cells: readonly string[]) =>
    cells
      .map((value, i) =>
        numeric[i] ? value.padStart(widths[i] ?? 0) : value.padEnd(widths[i] ?? 0),
      )
      .join('  ')
      .trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  const count = `(${result.rows.length} row${result.rows.length === 1 ? '' : 's'})`;
  return `${[line(result.columns), rule, ...body.map(line), count].join('\n')}\n`;
}

import { cpus, totalmem } from 'node:os';
import { meets, type Summary, summarize, type Target } from './stats.js';

/** One row of the table: a measured quantity over several runs, or a note where none could be made. */
export interface Figure {
  readonly caseId: string;
  readonly metric: string;
  readonly unit: string;
  readonly samples: readonly number[];
  readonly target?: Target;
  /** Shown instead of the numbers when there are none (e.g. "OOM at 512 MB"), or beside them. */
  readonly note?: string;
}

export interface FigureRow extends Figure {
  readonly summary?: Summary;
  /** undefined: no target. */
  readonly met?: boolean;
}

export interface Machine {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGb: number;
  readonly node: string;
  readonly platform: string;
}

export function describeMachine(): Machine {
  const list = cpus();
  return {
    cores: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

export function toRow(figure: Figure): FigureRow {
  if (figure.samples.length === 0) {
    return figure.target ? { ...figure, met: false } : { ...figure };
  }
  const summary = summarize(figure.samples);
  return {
    ...figure,
    summary,
    ...(figure.target ? { met: meets(figure.target, summary.median) } : {}),
  };
}

/** Three significant digits, without exponent notation for the sizes in this table. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString('en-US');
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  if (abs === 0) return '0';
  return value.toPrecision(3);
}

function withUnit(value: string, unit: string): string {
  return unit ? `${value} ${unit}` : value;
}

function cells(row: FigureRow): string[] {
  const fmt = (value: number) => withUnit(formatNumber(value), row.unit);
  const target = row.target
    ? withUnit(`${row.target.op} ${formatNumber(row.target.value)}`, row.unit)
    : '-';
  const met = row.met === undefined ? '-' : row.met ? 'met' : 'MISSED';
  if (!row.summary) return [row.caseId, row.metric, row.note ?? 'n/a', '', '', '0', target, met];
  const median = row.note ? `${fmt(row.summary.median)} (${row.note})` : fmt(row.summary.median);
  return [
    row.caseId,
    row.metric,
    median,
    fmt(row.summary.min),
    fmt(row.summary.max),
    String(row.summary.runs),
    target,
    met,
  ];
}

/** A plain-text table (also valid Markdown) of every row. */
export function renderTable(rows: readonly FigureRow[]): string {
  const header = ['case', 'metric', 'median', 'min', 'max', 'runs', 'target', 'met?'];
  const body = rows.map(cells);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

export function renderMachine(machine: Machine): string {
  return `${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGb} GB memory, Node ${machine.node}, ${machine.platform}`;
}

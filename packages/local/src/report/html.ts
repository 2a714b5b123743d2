import type { RunRecords, RunStatus } from '@fanout/shared';
import type { Problem } from '../commands/problems.js';
import { ESTIMATE_NOTES, gbSeconds, type MonthlyEstimate } from './cost-model.js';
import { type SourceRow, sourceRows } from './sources.js';
import { type RunTimeline, runTimeline } from './timeline.js';

/** Everything the page shows; the builder reads nothing else. */
export interface ReportInput {
  readonly runId: string;
  readonly bucket: string;
  readonly records: RunRecords;
  readonly status: RunStatus;
  readonly problems: readonly Problem[];
  /** The cost of this run alone, at the stack's schedule. */
  readonly estimate: MonthlyEstimate;
  readonly schedule: string;
  readonly generatedAt: string;
}

export function escapeHtml(text: string | number): string {
  return String(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
const esc = escapeHtml;

function seconds(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(2)} s`;
}

function bytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function usd(n: number): string {
  return n >= 0.01 || n === 0 ? `$${n.toFixed(2)}` : `$${n.toPrecision(2)}`;
}

const WIDTH = 1100;
const LABEL_WIDTH = 170;
const RIGHT = 16;
const LANE = 16;
const GAP = 6;
const AXIS = 28;

/** A tick step of 1, 2 or 5 times a power of ten giving at most ~10 ticks. */
function tickStep(spanMs: number): number {
  const raw = Math.max(spanMs / 10, 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 5, 10]) if (power * factor >= raw) return power * factor;
  return power * 10;
}

interface Lane {
  readonly label: string;
  readonly body: string;
}

/** The timeline as SVG: one lane per manager, hop and parsed object; bars carry their data. */
export function timelineSvg(timeline: RunTimeline): string {
  const span = Math.max(timeline.endMs - timeline.originMs, 1);
  const plot = WIDTH - LABEL_WIDTH - RIGHT;
  const x = (ms: number) => LABEL_WIDTH + ((ms - timeline.originMs) / span) * plot;
  const bar = (
    y: number,
    startMs: number,
    endMs: number,
    className: string,
    data: Record<string, string | number>,
    title: string,
  ) => {
    const left = x(startMs);
    const width = Math.max(x(endMs) - left, 2);
    const attributes = Object.entries(data)
      .map(([name, value]) => ` data-${name}="${esc(value)}"`)
      .join('');
    return `<rect class="bar ${className}" x="${left.toFixed(1)}" y="${y}" width="${width.toFixed(1)}" height="${LANE}" rx="2" data-start-ms="${startMs}" data-end-ms="${endMs}"${attributes}><title>${esc(title)}</title></rect>`;
  };
  const lanes: Lane[] = [];
  const yOf = (index: number) => AXIS + index * (LANE + GAP);
  if (timeline.manager) {
    const { startMs, endMs } = timeline.manager;
    lanes.push({
      label: 'manager',
      body: bar(
        yOf(lanes.length),
        startMs,
        endMs,
        'manager',
        { kind: 'manager' },
        `manager: plan written at ${new Date(startMs).toISOString()}, first collector task ${seconds(endMs - startMs)} later`,
      ),
    });
  }
  for (const hop of timeline.hops) {
    const y = yOf(lanes.length);
    const marks = [
      ...hop.retried.map(
        (mark) =>
          `<circle class="mark retry" cx="${x(mark.atMs).toFixed(1)}" cy="${y + LANE / 2}" r="4" data-kind="retry" data-batch="${esc(hop.batchId)}" data-hop="${hop.hop}" data-source="${esc(mark.sourceId)}" data-attempts="${mark.attempts}" data-at-ms="${mark.atMs}"><title>${esc(`${mark.sourceId}: ${mark.attempts} attempts`)}</title></circle>`,
      ),
      ...hop.failed.map((mark) => {
        const cx = x(mark.atMs);
        return `<path class="mark failed" d="M${(cx - 4).toFixed(1)} ${y + 4}l8 8m0 -8l-8 8" data-kind="failed" data-batch="${esc(hop.batchId)}" data-hop="${hop.hop}" data-source="${esc(mark.sourceId)}" data-attempts="${mark.attempts}" data-at-ms="${mark.atMs}"><title>${esc(`${mark.sourceId} failed after ${mark.attempts} attempts: ${mark.reason ?? ''}`)}</title></path>`;
      }),
    ];
    lanes.push({
      label: `${hop.batchId} hop ${hop.hop}`,
      body:
        bar(
          y,
          hop.startMs,
          hop.endMs,
          hop.hop === 0 ? 'hop' : 'hop continuation',
          {
            kind: 'hop',
            batch: hop.batchId,
            hop: hop.hop,
            tasks: hop.tasks,
            continued: hop.continued,
            packed: String(hop.packed),
          },
          `${hop.batchId} hop ${hop.hop}: ${hop.tasks} tasks in ${seconds(hop.endMs - hop.startMs)}, ${hop.continued} continued, ${hop.retried.length} retried, ${hop.failed.length} failed${hop.packed ? '' : ' (no pack: results record)'}`,
        ) + marks.join(''),
    });
  }
  if (timeline.batchFailures.length > 0) {
    const y = yOf(lanes.length);
    lanes.push({
      label: 'batch failures',
      body: timeline.batchFailures
        .map((failure) => {
          const cx = x(failure.atMs);
          return `<path class="mark failed" d="M${(cx - 5).toFixed(1)} ${y + 3}l10 10m0 -10l-10 10" data-kind="batch-failure" data-batch="${esc(failure.batchId ?? '')}" data-at-ms="${failure.atMs}"><title>${esc(`${failure.batchId ?? 'batch'}: ${failure.reason}`)}</title></path>`;
        })
        .join(''),
    });
  }
  for (const parse of timeline.parses) {
    const name =
      parse.batchId === undefined
        ? (parse.rawKey.split('/').pop() ?? parse.rawKey)
        : `${parse.batchId} hop ${parse.hop}`;
    lanes.push({
      label: `parse ${name}`,
      body: bar(
        yOf(lanes.length),
        parse.startMs,
        parse.endMs,
        parse.quarantined > 0 ? 'parse quarantine' : 'parse',
        {
          kind: 'parse',
          'raw-key': parse.rawKey,
          ...(parse.batchId === undefined ? {} : { batch: parse.batchId, hop: parse.hop ?? 0 }),
          pages: parse.pages,
          parsed: parse.parsed,
          quarantined: parse.quarantined,
        },
        `parse of ${parse.rawKey}: stored to outcome ${seconds(parse.endMs - parse.startMs)}, ${parse.parsed} of ${parse.pages} pages parsed, ${parse.quarantined} quarantined`,
      ),
    });
  }
  const height = yOf(lanes.length) + 4;
  const step = tickStep(span);
  const ticks: string[] = [];
  for (let t = 0; t <= span; t += step) {
    const tx = x(timeline.originMs + t).toFixed(1);
    ticks.push(
      `<line class="grid" x1="${tx}" x2="${tx}" y1="${AXIS - 6}" y2="${height}"/><text class="tick" x="${tx}" y="${AXIS - 10}">${esc(`${Number((t / 1000).toFixed(3))} s`)}</text>`,
    );
  }
  const labels = lanes
    .map(
      (lane, index) =>
        `<text class="lane" x="${LABEL_WIDTH - 8}" y="${yOf(index) + LANE - 4}">${esc(lane.label)}</text>`,
    )
    .join('');
  return `<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="run timeline" data-origin-ms="${timeline.originMs}" data-end-ms="${timeline.endMs}">${ticks.join('')}${labels}${lanes.map((lane) => lane.body).join('')}</svg>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2937;margin:24px;max-width:1140px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.meta{color:#6b7280;margin:0 0 16px}
.badge{display:inline-block;padding:1px 8px;border-radius:9px;font-size:12px;font-weight:600;color:#fff;background:#059669}
.badge.incomplete{background:#d97706}.badge.failed,.badge.problems{background:#dc2626}
.totals{display:grid;grid-template-columns:repeat(6,1fr);gap:8px}
.totals div{border:1px solid #e5e7eb;border-radius:6px;padding:6px 10px}
.totals b{display:block;font-size:18px}.totals span{color:#6b7280;font-size:12px}
svg text{font:11px system-ui,sans-serif;fill:#374151}
svg .lane{text-anchor:end}svg .tick{text-anchor:middle;fill:#6b7280}
svg .grid{stroke:#e5e7eb}
.bar.manager{fill:#6b7280}.bar.hop{fill:#2563eb}.bar.continuation{fill:#7c3aed}
.bar.parse{fill:#059669}.bar.quarantine{fill:#d97706}
.mark.retry{fill:#f59e0b;stroke:#fff}.mark.failed{stroke:#dc2626;stroke-width:2.5;fill:none}
.legend span{display:inline-block;margin-right:14px;font-size:12px;color:#4b5563}
.legend i{display:inline-block;width:12px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e5e7eb;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f9fafb}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.failed td:first-child,tr.quarantined td:first-child{border-left:3px solid #dc2626}
tr.quarantined td:first-child{border-left-color:#d97706}tr.pending td:first-child{border-left:3px solid #9ca3af}
.reason{color:#b91c1c;max-width:420px;word-break:break-word}
.note{color:#92400e;display:block}
.notes{color:#6b7280;font-size:12px}
`;

function totalsHtml(status: RunStatus): string {
  const cells: [string, number][] = [
    ['sources', status.sources],
    ['batches', status.batches],
    ['collected', status.collected],
    ['unchanged', status.unchanged],
    ['failed', status.failed],
    ['pending', status.pending],
    ['raw objects', status.rawObjects],
    ['pages', status.pages],
    ['parsed', status.parsed],
    ['quarantined', status.quarantined],
    ['not parsed yet', status.unparsed],
    ['failed batches', status.failedBatches],
  ];
  return `<div class="totals" id="totals">${cells
    .map(
      ([label, value]) =>
        `<div data-total="${esc(label)}"><b>${value}</b><span>${esc(label)}</span></div>`,
    )
    .join('')}</div>`;
}

function rowClass(row: SourceRow): string {
  if (row.outcome === 'failed') return 'failed';
  if (row.parse === 'quarantined') return 'quarantined';
  return row.outcome === 'pending' ? 'pending' : '';
}

function sourcesHtml(rows: readonly SourceRow[]): string {
  const body = rows
    .map(
      (row) =>
        `<tr class="${rowClass(row)}" data-source="${esc(row.sourceId)}"><td>${esc(row.sourceId)}</td><td>${esc(row.outcome)}</td><td>${esc(row.parse)}</td><td>${esc(row.hop ?? '')}</td><td class="num">${row.durationMs === undefined ? '' : esc(seconds(row.durationMs))}</td><td class="num">${row.bytes === undefined ? '' : esc(bytes(row.bytes))}</td><td class="num">${row.attempts ?? ''}</td><td class="reason">${esc(row.reason ?? '')}${row.note ? `<span class="note">${esc(row.note)}</span>` : ''}</td></tr>`,
    )
    .join('\n');
  return `<table id="sources"><thead><tr><th>source</th><th>outcome</th><th>parse</th><th>hop</th><th class="num">duration</th><th class="num">bytes</th><th class="num">attempts</th><th>reason or note</th></tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function costHtml(estimate: MonthlyEstimate, schedule: string): string {
  const perRun = estimate.usd.total / Math.max(estimate.runsPerMonth, 1);
  const fns = Object.entries(estimate.perRun.functions)
    .map(
      ([id, fn]) =>
        `<tr><td>${esc(id)}</td><td class="num">${fn.invocations}</td><td class="num">${esc(seconds(fn.billedMs))}</td><td class="num">${fn.memoryMb} MB</td><td class="num">${gbSeconds(fn).toFixed(3)}</td></tr>`,
    )
    .join('');
  const ops = Object.entries(estimate.perRun.s3ByOperation)
    .filter(([, count]) => count > 0)
    .map(([op, count]) => `${esc(op)} ${count}`)
    .join(', ');
  return `<div id="cost" data-usd-run="${perRun}" data-usd-month="${estimate.usd.total}">
<p><b>${esc(usd(perRun))}</b> this run; <b>${esc(usd(estimate.usd.total))}</b> a month at ${esc(schedule)} (${Math.round(estimate.runsPerMonth)} runs), ${esc(usd(estimate.usd.totalWithFreeTier))} with Lambda's free tier. S3 requests this run: ${ops}; stored ${esc(bytes(estimate.perRun.storedBytes))}.</p>
<table><thead><tr><th>function</th><th class="num">invocations</th><th class="num">billed (est.)</th><th class="num">memory</th><th class="num">GB-s</th></tr></thead><tbody>${fns}</tbody></table>
<p class="notes">Estimated from the records, at the prices of @fanout/shared prices.ts: ${ESTIMATE_NOTES.map(esc).join('; ')}. <code>fanout cost</code> averages several runs.</p></div>`;
}

function badge(status: RunStatus): string {
  if (status.runState === 'failed') return '<span class="badge failed">run failed</span>';
  if (!status.complete) return '<span class="badge incomplete">incomplete</span>';
  if (status.failed > 0 || status.quarantined > 0) {
    return '<span class="badge problems">complete, with problems</span>';
  }
  return '<span class="badge">complete</span>';
}

/** The report: one HTML file, no scripts, no external assets, nothing fetched. */
export function reportHtml(input: ReportInput): string {
  const { records, status } = input;
  const timeline = runTimeline(records);
  const manifest = records.manifest;
  const legend = [
    ['#6b7280', 'manager: plan written, dispatch'],
    ['#2563eb', 'collector hop'],
    ['#7c3aed', 'continuation hop'],
    ['#059669', 'parse (stored to outcome)'],
    ['#d97706', 'parse with quarantined pages'],
  ]
    .map(([color, label]) => `<span><i style="background:${color}"></i>${esc(label ?? '')}</span>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Fanout run ${esc(input.runId)}</title><style>${STYLE}</style></head>
<body>
<h1>Run ${esc(input.runId)} ${badge(status)}</h1>
<p class="meta">${manifest ? `scheduled ${esc(manifest.scheduledAt)}, ${esc(manifest.trigger)}, planned ${esc(manifest.createdAt)}` : 'no run manifest'} &middot; bucket ${esc(input.bucket)} &middot; report made ${esc(input.generatedAt)}</p>
<h2>Totals</h2>
${totalsHtml(status)}
<h2>Timeline</h2>
<div class="legend">${legend}<span><svg width="10" height="10"><circle cx="5" cy="5" r="4" fill="#f59e0b"/></svg> retried task</span><span><svg width="10" height="10"><path d="M1 1l8 8m0 -8l-8 8" stroke="#dc2626" stroke-width="2.5"/></svg> failed task</span></div>
${timelineSvg(timeline)}
<h2>Estimated cost</h2>
${costHtml(input.estimate, input.schedule)}
<h2>Sources</h2>
${sourcesHtml(sourceRows(records, input.problems))}
</body></html>
`;
}

import { PRICE_TABLE, type Price } from '@fanout/shared';
import { ESTIMATE_NOTES, gbSeconds, type MonthlyEstimate } from './cost-model.js';

function money(n: number): string {
  return n >= 0.01 || n === 0 ? `$${n.toFixed(2)}` : `$${n.toPrecision(2)}`;
}

function count(n: number): string {
  return Number.isInteger(n)
    ? n.toLocaleString('en-US')
    : n.toLocaleString('en-US', { maximumFractionDigits: 1 });
}

function columns(rows: string[][]): string {
  const widths =
    rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      `  ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')}`.trimEnd(),
    )
    .join('\n');
}

/** `$0.20 per 1M requests`, `$0.0000133334 per GB-second`: no float noise, no exponents. */
export function priceText(price: Price): string {
  if (price.unit === 'request') return `$${decimal(price.usd * 1_000_000)} per 1M requests`;
  return `$${decimal(price.usd)} per ${price.unit}`;
}

function decimal(n: number): string {
  return n.toFixed(10).replace(/\.?0+$/, '');
}

/** What `fanout cost` prints: the estimate, how it was made, and the prices it used. */
export function costText(estimate: MonthlyEstimate, where: string, schedule: string): string {
  const { perRun, month, usd } = estimate;
  const runs = estimate.runsSampled;
  const functions = columns([
    ['function', 'invocations', 'billed (est.)', 'memory', 'GB-s'],
    ...Object.entries(perRun.functions).map(([id, fn]) => [
      id,
      count(fn.invocations),
      `${(fn.billedMs / 1000).toFixed(2)} s`,
      `${fn.memoryMb} MB`,
      gbSeconds(fn).toFixed(3),
    ]),
  ]);
  const requests = columns([
    ['by', 'request', 'kind', 'count'],
    ...perRun.s3
      .filter((line) => line.count > 0)
      .map((line) => [line.by, line.what, line.op, count(line.count)]),
  ]);
  const byOp = Object.entries(perRun.s3ByOperation)
    .filter(([, n]) => n > 0)
    .map(([op, n]) => `${op} ${count(n)}`)
    .join(', ');
  const monthly = columns([
    ['Lambda requests', count(Math.round(month.lambdaRequests)), money(usd.lambdaRequests)],
    ['Lambda duration', `${month.lambdaGbSeconds.toFixed(1)} GB-s`, money(usd.lambdaDuration)],
    ['S3 PUT/COPY/POST/LIST', count(Math.round(month.s3PutTierRequests)), money(usd.s3PutTier)],
    ['S3 GET/HEAD', count(Math.round(month.s3GetTierRequests)), money(usd.s3GetTier)],
    ['S3 storage added', `${month.storageGb.toFixed(3)} GB`, money(usd.storage)],
    ['total', '', money(usd.total)],
    ["total with Lambda's free tier", '', money(usd.totalWithFreeTier)],
  ]);
  const prices = Object.entries(PRICE_TABLE)
    .map(([name, p]) => `    ${name}: ${priceText(p)} (${p.asOf}, ${p.source})`)
    .join('\n');
  return `Estimated monthly cost of ${where}: ${money(usd.total)} (${money(usd.totalWithFreeTier)} with Lambda's free tier)
From ${runs.length} run${runs.length === 1 ? '' : 's'} (${runs.join(', ')}); schedule ${schedule}: ${count(Math.round(estimate.runsPerMonth))} runs a month

Per run (average):
${functions}

S3 requests per run (the model, counted from the records): ${byOp}
${requests}
  stored per run: ${count(Math.round(perRun.storedBytes))} bytes

A month:
${monthly}

Assumptions:
${ESTIMATE_NOTES.map((note) => `  - ${note}`).join('\n')}
  - a month is 30 days; prices us-east-1, USD:
${prices}
`;
}

import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { LocalSession } from '@fanout/local';
import { FUNCTION_IDS, type SourceInput } from '@fanout/shared';
import {
  type BenchMode,
  type CaseResult,
  type RetriedFailure,
  repeat,
  withTempDir,
} from '../common.js';
import {
  type FunctionUsage,
  type MonthlyCost,
  monthlyCost,
  PRICES,
  perSourceUsage,
  RUNS_PER_MONTH,
  type RunUsage,
  S3_GET_TIER,
  S3_PUT_TIER,
} from '../cost.js';
import type { Figure } from '../report.js';
import { useGeneratedSourcesOnly } from './cloud.js';

const CASE = '5 cost';
/** The reference workload of the issue. */
const WORKLOAD = { sources: 100, latencyMs: 300, bodyBytes: 50 * 1024, changeRate: 0.2 } as const;
const TARGET_USD = 0.1;
/** PUT, COPY, POST and LIST requests of one steady-state cycle: the request budget. */
const TARGET_PUT_TIER_PER_CYCLE = 3;
const ORIGINAL_USD = 0.8;
const FIRST = new Date('2026-06-01T00:00:00Z');
const SECOND = new Date('2026-06-01T00:10:00Z');

async function bucketBytes(s3: S3Client, bucket: string): Promise<number> {
  let total = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) total += object.Size ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return total;
}

function minus(
  after: Record<string, number>,
  before: Record<string, number>,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after).map(([key, value]) => [key, value - (before[key] ?? 0)]),
  );
}

interface Measured {
  readonly usage: RunUsage;
  /** The parser's billed time in the measured cycle. */
  readonly parserBilledMs: number;
  readonly perSource: RunUsage;
  readonly changed: number;
  readonly collected: number;
  readonly unchanged: number;
}

/**
 * The same workload with every source emitting changes only and reading incrementally: a
 * key, `emit: "changes"` and a cursor sent as a query parameter (the generated items' `n`
 * and `updatedAt`). What that adds to a cycle: the parser's read of the previous fetch's pack
 * (GET) and extraction of its entries, the manager's read of the parse outcome (HEAD).
 */
function withRecordState(source: SourceInput): SourceInput {
  return {
    ...source,
    key: ['n'],
    emit: 'changes',
    cursor: { field: 'updatedAt', param: 'since' },
  };
}

type Variant = 'reference' | 'emit changes + cursor';

/** Two cycles; the second (20% of sources changed, validators known) is the steady state measured. */
async function measureOnce(variant: Variant): Promise<Measured> {
  return withTempDir('cost', async (home) => {
    const session = await LocalSession.start({
      home,
      demo: {
        count: WORKLOAD.sources,
        latencyMs: WORKLOAD.latencyMs,
        bodyBytes: WORKLOAD.bodyBytes,
        changeRate: WORKLOAD.changeRate,
      },
    });
    try {
      const { cloud } = session;
      await useGeneratedSourcesOnly(session);
      if (variant !== 'reference') {
        const manifest = session.demo.manifest({ fixed: false });
        await cloud.putManifest({ ...manifest, sources: manifest.sources.map(withRecordState) });
      }
      await session.cycle({ time: FIRST });
      const change = session.demo.nextCycle();
      const lambdaBefore = cloud.lambda.stats();
      const s3Before = cloud.s3Stats().requests;
      const bytesBefore = await bucketBytes(cloud.s3, cloud.bucket);
      const second = await session.cycle({ time: SECOND });
      const lambdaAfter = cloud.lambda.stats();
      const s3After = cloud.s3Stats().requests;
      const bytesAfter = await bucketBytes(cloud.s3, cloud.bucket);

      const functions: Record<string, FunctionUsage> = {};
      for (const id of FUNCTION_IDS) {
        const name = cloud.functionName(id);
        const before = lambdaBefore[name];
        const after = lambdaAfter[name];
        if (!after) continue;
        functions[name] = {
          invocations: after.invocations - (before?.invocations ?? 0),
          billedMs: after.billedMs - (before?.billedMs ?? 0),
          memoryMb: after.memoryMb,
        };
      }
      const usage: RunUsage = {
        functions,
        s3Requests: minus(s3After, s3Before),
        storedBytes: Math.max(0, bytesAfter - bytesBefore),
      };
      const records = await session.records.records(second.runId);
      const collectorName = cloud.functionName('collector');
      const perSource = perSourceUsage(usage, collectorName, {
        taskDurationsMs: records.results.flatMap((result) =>
          result.outcomes.map((o) => o.durationMs),
        ),
        collectorMemoryMb: cloud.topology.functions.collector.memoryMb,
        batchedCollectorInvocations: functions[collectorName]?.invocations ?? 0,
      });
      return {
        usage,
        parserBilledMs: functions[cloud.functionName('parser')]?.billedMs ?? 0,
        perSource,
        changed: change.changed.length,
        collected: second.status.collected,
        unchanged: second.status.unchanged,
      };
    } finally {
      await session.stop();
    }
  });
}

function costFigures(label: string, costs: MonthlyCost[], target: boolean): Figure[] {
  const rows: [string, (c: MonthlyCost) => number, string][] = [
    ['Lambda requests', (c) => c.usd.lambdaRequests, '$'],
    ['Lambda GB-s', (c) => c.usd.lambdaDuration, '$'],
    ['S3 PUT/COPY/POST/LIST', (c) => c.usd.s3PutTier, '$'],
    ['S3 GET/HEAD', (c) => c.usd.s3GetTier, '$'],
    ['S3 storage', (c) => c.usd.storage, '$'],
  ];
  return [
    ...rows.map(([metric, pick, unit]) => ({
      caseId: CASE,
      metric: `${label}: ${metric}`,
      unit,
      samples: costs.map(pick),
    })),
    {
      caseId: CASE,
      metric: `${label}: total/month`,
      unit: '$',
      samples: costs.map((c) => c.usd.total),
      ...(target ? { target: { op: '<=' as const, value: TARGET_USD } } : {}),
    },
    {
      caseId: CASE,
      metric: `${label}: total/month, Lambda free tier`,
      unit: '$',
      samples: costs.map((c) => c.usdWithFreeTier.total),
      ...(target ? { target: { op: '<=' as const, value: TARGET_USD } } : {}),
    },
  ];
}

function sumOf(requests: Readonly<Record<string, number>>, ops: readonly string[]): number {
  return ops.reduce((sum, op) => sum + (requests[op] ?? 0), 0);
}

/** The second cycle's S3 requests by kind, so a change in the count shows where it came from. */
function requestFigures(runs: readonly Measured[], label = ''): Figure[] {
  const kinds = [...S3_PUT_TIER, ...S3_GET_TIER];
  return [
    {
      caseId: CASE,
      metric: `${label}S3 PUT-class requests per cycle`,
      unit: '',
      samples: runs.map((r) => sumOf(r.usage.s3Requests, S3_PUT_TIER)),
      target: { op: '<=' as const, value: TARGET_PUT_TIER_PER_CYCLE },
    },
    ...kinds
      .filter((kind) => runs.some((r) => (r.usage.s3Requests[kind] ?? 0) > 0))
      .map((kind) => ({
        caseId: CASE,
        metric: `${label}S3 ${kind} requests per cycle`,
        unit: '',
        samples: runs.map((r) => r.usage.s3Requests[kind] ?? 0),
      })),
  ];
}

/** The parser's billed milliseconds in the measured cycle (what reading a previous fetch adds). */
function parserFigure(runs: readonly Measured[], label = ''): Figure {
  return {
    caseId: CASE,
    metric: `${label}parser billed ms per cycle`,
    unit: 'ms',
    samples: runs.map((r) => r.parserBilledMs),
  };
}

export async function costCase(mode: BenchMode): Promise<CaseResult> {
  const retried: RetriedFailure[] = [];
  const reps = mode.quick ? 1 : 3;
  mode.progress(`case ${CASE}: ${WORKLOAD.sources} sources, two cycles, the second measured`);
  const runs = await repeat(reps, 'two cycles', mode, () => measureOnce('reference'), retried);
  const batched = runs.map((r) => monthlyCost(r.usage));
  const perSource = runs.map((r) => monthlyCost(r.perSource));
  const variant: Variant = 'emit changes + cursor';
  mode.progress(`case ${CASE}: the same, every source with ${variant}`);
  const selecting = await repeat(reps, variant, mode, () => measureOnce(variant), retried);
  const label = `${variant}: `;
  return {
    figures: [
      ...requestFigures(runs),
      parserFigure(runs),
      ...costFigures('batched', batched, true),
      ...costFigures('1 source/invocation', perSource, false),
      {
        caseId: CASE,
        metric: 'batched vs original $0.80',
        unit: 'x',
        samples: batched.map((c) => c.usd.total / ORIGINAL_USD),
      },
      ...requestFigures(selecting, label),
      parserFigure(selecting, label),
      ...costFigures(
        `${variant}, batched`,
        selecting.map((r) => monthlyCost(r.usage)),
        false,
      ),
    ],
    details: {
      retried,
      workload: WORKLOAD,
      runsPerMonth: RUNS_PER_MONTH,
      prices: PRICES,
      storageModel: "one month's writes held for the month (no lifecycle rule)",
      perSourceModel:
        'same per-task durations (BatchResult durationMs), one collector invocation and one batch-result PUT per source',
      runs: runs.map((r, i) => ({ ...r, monthly: batched[i], monthlyPerSource: perSource[i] })),
      [variant]: selecting,
    },
  };
}

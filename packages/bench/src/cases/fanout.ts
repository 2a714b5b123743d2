import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { LocalSession } from '@fanout/local';
import { buildPayload, DEFAULTS, taskFor } from '@fanout/manager';
import {
  type BatchResult,
  batchId,
  PREFIXES,
  parseManifestText,
  parsePackKey,
  readPackHeader,
  runIdFromTime,
  topology,
} from '@fanout/shared';
import {
  type BenchMode,
  type CaseResult,
  type RetriedFailure,
  repeat,
  waitFor,
  withTempDir,
} from '../common.js';
import { median } from '../stats.js';
import { collectionDone, quietCycle, useGeneratedSourcesOnly } from './cloud.js';

const CASE = '1 fan-out';
const LATENCY_MS = 100;
/** The one big function may take Lambda's maximum timeout. */
const SINGLE_TIMEOUT_SECONDS = 900;
const SINGLE_TIME = new Date('2026-06-01T00:00:00Z');
const FANOUT_TIME = new Date('2026-06-01T00:10:00Z');
/** The default manager estimate for a source it has never measured (ms). */
const DEFAULT_ESTIMATE_MS = 2_000;

interface FanOutRun {
  readonly collectMs: number;
  readonly totalMs: number;
  readonly collected: number;
  readonly sources: number;
  readonly collectorInvocations: number;
}

/**
 * The batch results of a run no manager planned. The run-record reader finds a run's packs
 * from its run manifest, which such a run does not have: the pack headers (where a hop that
 * stored responses keeps its outcomes) are read here, beside the results of hops without a pack.
 */
async function unplannedRunResults(session: LocalSession, runId: string): Promise<BatchResult[]> {
  const byHop = new Map<string, BatchResult>();
  for (const result of (await session.records.records(runId)).results) {
    byHop.set(`${result.batchId}/${result.hop}`, result);
  }
  // The session's bucket holds this run only, so listing every pack is cheap.
  const packs = await session.records.list(`${PREFIXES.raw}packs/`);
  for (const { key } of packs) {
    if (parsePackKey(key)?.runId !== runId) continue;
    const out = await session.cloud.s3.send(
      new GetObjectCommand({ Bucket: session.cloud.bucket, Key: key }),
    );
    const { result } = await readPackHeader(out.Body as Readable, DEFAULTS.packHeaderMaxBytes);
    byHop.set(`${result.batchId}/${result.hop}`, result);
  }
  return [...byHop.values()];
}

async function fanOutOnce(count: number): Promise<FanOutRun> {
  return withTempDir('fanout', async (home) => {
    const session = await LocalSession.start({ home, demo: { count, latencyMs: LATENCY_MS } });
    try {
      await useGeneratedSourcesOnly(session);
      const cycle = await quietCycle(session, FANOUT_TIME);
      const collector = session.cloud.lambda.stats()[session.cloud.functionName('collector')];
      return {
        collectMs: cycle.collectMs,
        totalMs: cycle.totalMs,
        collected: cycle.status.collected,
        sources: cycle.status.sources,
        collectorInvocations: collector?.invocations ?? 0,
      };
    } finally {
      await session.stop();
    }
  });
}

/**
 * The "before": every source in one collector invocation that fetches one at a
 * time, run by the same local Lambda against the same demo server and S3.
 */
async function singleOnce(count: number): Promise<FanOutRun> {
  return withTempDir('single', async (home) => {
    const session = await LocalSession.start({
      home,
      demo: { count, latencyMs: LATENCY_MS },
      functions: { collector: { timeoutSeconds: SINGLE_TIMEOUT_SECONDS, reservedConcurrency: 1 } },
      settings: { collector: { FANOUT_COLLECTOR_CONCURRENCY: '1' } },
    });
    try {
      const manifest = session.demo.manifest({ fixed: false });
      const { sources } = parseManifestText(JSON.stringify(manifest));
      const runId = runIdFromTime(SINGLE_TIME);
      const tasks = sources.map((source) => taskFor(source, undefined, DEFAULT_ESTIMATE_MS));
      const payload = buildPayload(runId, SINGLE_TIME.toISOString(), batchId(0), tasks);
      const started = Date.now();
      await session.cloud.lambda.invokeAsync(session.cloud.functionName('collector'), payload);
      const collectMs = await waitFor(() => collectionDone(session.cloud), started, 20);
      await session.cloud.settled();
      const totalMs = Date.now() - started;
      // No manager planned this run, so its outcomes are counted from the batch results.
      const results = await unplannedRunResults(session, runId);
      const collected = results.flatMap((r) => r.outcomes).filter((o) => o.status === 'ok').length;
      return {
        collectMs,
        totalMs,
        collected,
        sources: sources.length,
        collectorInvocations:
          session.cloud.lambda.stats()[session.cloud.functionName('collector')]?.invocations ?? 0,
      };
    } finally {
      await session.stop();
    }
  });
}

export async function fanOutCase(mode: BenchMode): Promise<CaseResult> {
  const retried: RetriedFailure[] = [];
  const count = mode.quick ? 200 : 2_000;
  const fanReps = mode.quick ? 1 : 3;
  // About four minutes a run at 2,000 sources: one run keeps the full suite near 25 minutes.
  const singleReps = 1;
  mode.progress(`case ${CASE}: ${count} sources at ${LATENCY_MS} ms`);
  const fan = await repeat(fanReps, 'fan-out', mode, () => fanOutOnce(count), retried);
  const single = await repeat(singleReps, 'one function', mode, () => singleOnce(count), retried);

  const reserved = topology.functions.collector.reservedConcurrency;
  const inInvocation = topology.collectorConcurrency;
  const idealMs = (count * LATENCY_MS) / (reserved * inInvocation);
  const singleMedian = median(single.map((r) => r.collectMs));
  const complete = [...fan, ...single].every((r) => r.collected === count);
  return {
    figures: [
      {
        caseId: CASE,
        metric: `fan-out collect ${count}`,
        unit: 's',
        samples: fan.map((r) => r.collectMs / 1000),
      },
      {
        caseId: CASE,
        metric: 'fan-out incl. parse',
        unit: 's',
        samples: fan.map((r) => r.totalMs / 1000),
      },
      {
        caseId: CASE,
        metric: `one function collect ${count}`,
        unit: 's',
        samples: single.map((r) => r.collectMs / 1000),
      },
      {
        caseId: CASE,
        metric: 'speedup (one fn / fan-out)',
        unit: 'x',
        samples: fan.map((r) => singleMedian / r.collectMs),
        target: { op: '>=', value: 50 },
      },
      {
        caseId: CASE,
        metric: `ratio to ideal ${(idealMs / 1000).toFixed(3)} s`,
        unit: 'x',
        samples: fan.map((r) => r.collectMs / idealMs),
        target: { op: '<=', value: 2 },
      },
      {
        caseId: CASE,
        metric: 'sources collected',
        unit: '',
        samples: [...fan, ...single].map((r) => r.collected),
        target: { op: '>=', value: count },
        ...(complete ? {} : { note: 'some sources not collected' }),
      },
    ],
    details: {
      retried,
      sources: count,
      latencyMs: LATENCY_MS,
      collectorReservedConcurrency: reserved,
      collectorInvocationConcurrency: inInvocation,
      idealLowerBoundMs: idealMs,
      fanOut: fan,
      oneFunction: single,
    },
  };
}

import { LocalSession } from '@fanout/local';
import {
  type BenchMode,
  type CaseResult,
  type RetriedFailure,
  repeat,
  withTempDir,
} from '../common.js';
import { quietCycle, useGeneratedSourcesOnly } from './cloud.js';

const CASE = '6 scale';
const LATENCY_MS: readonly [number, number] = [5, 20];
const TIME = new Date('2026-06-01T00:00:00Z');

interface ScaleRun {
  readonly totalMs: number;
  readonly collectMs: number;
  readonly sources: number;
  readonly accounted: number;
  readonly pending: number;
  readonly unparsed: number;
  readonly complete: boolean;
  readonly batches: number;
}

async function scaleOnce(count: number): Promise<ScaleRun> {
  return withTempDir('scale', async (home) => {
    const session = await LocalSession.start({ home, demo: { count, latencyMs: LATENCY_MS } });
    try {
      await useGeneratedSourcesOnly(session);
      const result = await quietCycle(session, TIME);
      const { status } = result;
      return {
        totalMs: result.totalMs,
        collectMs: result.collectMs,
        sources: status.sources,
        accounted: status.collected + status.unchanged + status.failed,
        pending: status.pending,
        unparsed: status.unparsed,
        complete: status.complete,
        batches: status.batches,
      };
    } finally {
      await session.stop();
    }
  });
}

export async function scaleCase(mode: BenchMode): Promise<CaseResult> {
  const retried: RetriedFailure[] = [];
  const count = mode.quick ? 500 : 10_000;
  // Minutes a run at 10,000 sources on two cores: one run keeps the full suite near 25 minutes.
  const reps = 1;
  mode.progress(`case ${CASE}: ${count} sources in one cycle`);
  const runs = await repeat(reps, 'cycle', mode, () => scaleOnce(count), retried);
  return {
    figures: [
      {
        caseId: CASE,
        metric: `${count} sources, one cycle`,
        unit: 's',
        samples: runs.map((r) => r.totalMs / 1000),
        target: { op: '<=', value: 60 },
      },
      {
        caseId: CASE,
        metric: 'sources not accounted for',
        unit: '',
        samples: runs.map((r) => count - r.accounted),
        target: { op: '<=', value: 0 },
      },
      {
        caseId: CASE,
        metric: 'raw objects unparsed',
        unit: '',
        samples: runs.map((r) => r.unparsed),
        target: { op: '<=', value: 0 },
      },
    ],
    details: {
      retried,
      sources: count,
      latencyMs: LATENCY_MS,
      runs,
    },
  };
}

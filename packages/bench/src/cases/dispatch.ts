import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS, LOCAL_REGION, LocalCloud } from '@fanout/local';
import { loadConfig, startRun } from '@fanout/manager';
import { ENV, runIdFromTime, systemClock } from '@fanout/shared';
import {
  type BenchMode,
  type CaseResult,
  type RetriedFailure,
  repeat,
  silentLog,
  withTempDir,
} from '../common.js';

const CASE = '2 dispatch';
const TIME = new Date('2026-06-01T00:00:00Z');

/** Built next to bench.mjs from src/stand-in/counting-collector.ts. */
export const COUNTING_COLLECTOR = join(
  dirname(fileURLToPath(import.meta.url)),
  'counting-collector.mjs',
);

interface DispatchRun {
  readonly tasks: number;
  readonly dispatched: number;
  readonly failed: number;
  readonly runMs: number;
  readonly arrived: number;
  readonly invocations: number;
}

function manifestOf(count: number): unknown {
  return {
    version: 1,
    sources: Array.from({ length: count }, (_, i) => ({
      id: `d-${String(i).padStart(5, '0')}`,
      // Never fetched: the stand-in collector only counts.
      url: `http://127.0.0.1:9/${i}.json`,
      format: 'json',
      allowPrivateNetwork: true,
    })),
  };
}

async function dispatchOnce(count: number): Promise<DispatchRun> {
  return withTempDir('dispatch', async (home) => {
    const countFile = join(home, 'arrived.txt');
    const cloud = await LocalCloud.start({
      home,
      bundles: { collector: COUNTING_COLLECTOR },
      settings: { collector: { BENCH_COUNT_FILE: countFile } },
    });
    const credentials = { ...LOCAL_CREDENTIALS };
    const s3 = new S3Client({
      endpoint: cloud.s3Endpoint,
      region: LOCAL_REGION,
      credentials,
      forcePathStyle: true,
    });
    // As the handler builds it: one attempt per call, the manager owns retries.
    const lambda = new LambdaClient({
      endpoint: cloud.lambdaEndpoint,
      region: LOCAL_REGION,
      credentials,
      maxAttempts: 1,
    });
    try {
      await cloud.putManifest(manifestOf(count));
      // One task per batch, so every task is one invocation; everything else is the default.
      const config = loadConfig({
        [ENV.bucket]: cloud.bucket,
        [ENV.collectorFunction]: cloud.functionName('collector'),
        FANOUT_MIN_TASKS_PER_BATCH: '1',
        [ENV.collectorMaxParallel]: String(count),
        FANOUT_MAX_BATCHES_PER_MANAGER: String(count),
      });
      const started = Date.now();
      const summary = await startRun(
        {
          kind: 'schedule',
          runId: runIdFromTime(TIME),
          scheduledAt: TIME.toISOString(),
          via: 'rule',
        },
        { requestId: 'bench-dispatch' },
        {
          config,
          store: { s3, bucket: cloud.bucket },
          lambda,
          log: silentLog,
          clock: systemClock,
          sleep: (ms) => sleepMs(ms),
          random: Math.random,
        },
      );
      const runMs = Date.now() - started;
      await cloud.lambda.drained();
      const lines = (await readFile(countFile, 'utf8').catch(() => '')).split('\n').filter(Boolean);
      const collector = cloud.lambda.stats()[cloud.functionName('collector')];
      return {
        tasks: summary.tasks,
        dispatched: summary.dispatched,
        failed: summary.failed,
        runMs,
        arrived: new Set(lines).size,
        invocations: collector?.invocations ?? 0,
      };
    } finally {
      s3.destroy();
      lambda.destroy();
      await cloud.stop();
    }
  });
}

export async function dispatchCase(mode: BenchMode): Promise<CaseResult> {
  const retried: RetriedFailure[] = [];
  const count = mode.quick ? 1_000 : 10_000;
  const reps = mode.quick ? 2 : 3;
  mode.progress(`case ${CASE}: ${count} tasks, one per batch`);
  const runs = await repeat(reps, 'run', mode, () => dispatchOnce(count), retried);
  return {
    figures: [
      {
        caseId: CASE,
        metric: `invocations/s (${count} tasks)`,
        unit: '/s',
        samples: runs.map((r) => r.dispatched / (r.runMs / 1000)),
        target: { op: '>=', value: 2_000 },
      },
      {
        caseId: CASE,
        metric: 'invocations lost',
        unit: '',
        samples: runs.map((r) => count - r.arrived),
        target: { op: '<=', value: 0 },
      },
    ],
    details: {
      retried,
      tasks: count,
      how: 'manager core startRun() in the bench process, LambdaClient on the local Invoke endpoint, a counting collector stand-in',
      runs,
    },
  };
}

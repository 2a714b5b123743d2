import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOCAL_CREDENTIALS, LOCAL_REGION, LocalCloud } from '@fanout/local';
import { type DispatchPartEvent, ENV } from '@fanout/shared';
import { resultOf, runNode, runNodesTogether } from '../child.js';
import {
  type BenchMode,
  type CaseResult,
  type RetriedFailure,
  repeat,
  withTempDir,
} from '../common.js';
import { type DispatchWork, type PartWork, planOnly } from './dispatch-work.js';

const CASE = '2 dispatch';

/** Built next to bench.mjs from src/stand-in/counting-collector.ts. */
export const COUNTING_COLLECTOR = join(
  dirname(fileURLToPath(import.meta.url)),
  'counting-collector.mjs',
);

/** Built next to bench.mjs from src/dispatch-child.ts. */
const DISPATCH_CHILD = join(dirname(fileURLToPath(import.meta.url)), 'dispatch-child.mjs');
/** The manager's default dispatch concurrency (`FANOUT_DISPATCH_CONCURRENCY`), used by the floor too. */
const FLOOR_CONCURRENCY = 32;
/** About the size of a one-task collector payload, for the floor's Invoke calls. */
const FLOOR_PAYLOAD_BYTES = 400;
const RATIO_TARGET = 0.9;

interface DispatchRun {
  readonly tasks: number;
  readonly dispatched: number;
  readonly failed: number;
  readonly runMs: number;
  readonly arrived: number;
  readonly invocations: number;
}

/** One run handed out through two dispatch parts, each in its own process. */
interface TwoPartRun {
  readonly batches: number;
  readonly tasks: number;
  readonly dispatched: number;
  readonly failed: number;
  /** From the first part's start to the last part's end. */
  readonly windowMs: number;
  readonly arrived: number;
  readonly parts: readonly PartWork[];
}

interface DispatchPair {
  /** The manager, one task per batch. */
  readonly manager: DispatchRun;
  /** Bare Invoke calls from another process, as many as the manager made. */
  readonly floor: DispatchWork;
  /** The manager with the default batch sizes. */
  readonly batched: DispatchRun;
  /** Two dispatch parts, one task per batch. */
  readonly twoParts: TwoPartRun;
  /** Two dispatch parts, the default batch sizes. */
  readonly twoPartsBatched: TwoPartRun;
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

async function child(args: string[], env: Record<string, string>): Promise<DispatchWork> {
  const out = await runNode([DISPATCH_CHILD, ...args], { PATH: process.env.PATH, ...env });
  return resultOf(args[0] ?? '', out);
}

function cloudEnv(cloud: LocalCloud): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: cloud.s3Endpoint,
    AWS_ENDPOINT_URL_LAMBDA: cloud.lambdaEndpoint,
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    // The manager's own warning about Node 20 support would only add noise to stderr.
    AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1',
  };
}

/**
 * One local cloud (the local S3 and the Invoke endpoint in this process, the counting collector in
 * its workers); `work` calls it from child processes.
 */
async function withCloud<T>(
  count: number,
  work: (
    cloud: LocalCloud,
    env: Record<string, string>,
    arrived: () => Promise<string[]>,
    home: string,
  ) => Promise<T>,
): Promise<T> {
  return withTempDir('dispatch', async (home) => {
    const countFile = join(home, 'arrived.txt');
    const cloud = await LocalCloud.start({
      home,
      bundles: { collector: COUNTING_COLLECTOR },
      settings: { collector: { BENCH_COUNT_FILE: countFile } },
    });
    try {
      await cloud.putManifest(manifestOf(count));
      const arrived = async () => {
        await cloud.lambda.drained();
        return (await readFile(countFile, 'utf8').catch(() => '')).split('\n').filter(Boolean);
      };
      const env = {
        ...cloudEnv(cloud),
        [ENV.bucket]: cloud.bucket,
        [ENV.collectorFunction]: cloud.functionName('collector'),
      };
      return await work(cloud, env, arrived, home);
    } finally {
      await cloud.stop();
    }
  });
}

/** The manager in a child process; `batches` are its batch settings. */
async function managerOnce(count: number, batches: Record<string, string>): Promise<DispatchRun> {
  return withCloud(count, async (cloud, env, arrived) => {
    const run = await child(['manager'], { ...env, ...batches });
    const lines = await arrived();
    const collector = cloud.lambda.stats()[cloud.functionName('collector')];
    return {
      tasks: run.tasks,
      dispatched: run.invocations,
      failed: run.failed,
      runMs: run.runMs,
      arrived: new Set(lines).size,
      invocations: collector?.invocations ?? 0,
    };
  });
}

async function floorOnce(count: number): Promise<DispatchWork> {
  return withCloud(0, async (cloud, env, arrived) => {
    const run = await child(
      [
        'floor',
        cloud.functionName('collector'),
        String(count),
        String(FLOOR_CONCURRENCY),
        String(FLOOR_PAYLOAD_BYTES),
      ],
      env,
    );
    await arrived();
    return run;
  });
}

/**
 * A large run as it scales past one manager: planned (run manifest written) without being
 * dispatched, then its batches handed out as two dispatch part events split as the manager's
 * hand-out splits them (`FANOUT_MAX_BATCHES_PER_MANAGER` = half the batches), each handled by
 * the manager core in its own process, both released at once against the same Invoke endpoint.
 */
async function twoPartsOnce(count: number, batches: Record<string, string>): Promise<TwoPartRun> {
  return withCloud(count, async (cloud, env, arrived, home) => {
    // Every batch kept by the planner: none is handed off while planning.
    const plan = await planOnly(
      { ...env, ...batches, FANOUT_MAX_BATCHES_PER_MANAGER: String(count) },
      cloud.s3,
    );
    if (plan.batchIds.length < 2)
      throw new Error(`${plan.batchIds.length} batch: nothing to split`);
    const half = Math.ceil(plan.batchIds.length / 2);
    const files = await Promise.all(
      [plan.batchIds.slice(0, half), plan.batchIds.slice(half)].map(async (batchIds, part) => {
        const event: DispatchPartEvent = {
          type: 'fanout.dispatch',
          runId: plan.runId,
          batchIds,
          part,
        };
        const file = join(home, `part-${part}.json`);
        await writeFile(file, JSON.stringify(event));
        return file;
      }),
    );
    const outs = await runNodesTogether(
      files.map((file) => [DISPATCH_CHILD, 'part', file]),
      { PATH: process.env.PATH, ...env, ...batches },
    );
    const parts = outs.map((out) => resultOf<PartWork>('part', out));
    const lines = await arrived();
    const sum = (pick: (part: PartWork) => number) => parts.reduce((n, part) => n + pick(part), 0);
    return {
      batches: plan.batchIds.length,
      tasks: sum((part) => part.tasks),
      dispatched: sum((part) => part.invocations),
      failed: sum((part) => part.failed),
      windowMs:
        Math.max(...parts.map((part) => part.endedAt)) -
        Math.min(...parts.map((part) => part.startedAt)),
      arrived: new Set(lines).size,
      parts,
    };
  });
}

async function pairOnce(count: number): Promise<DispatchPair> {
  const oneTask = {
    // One task per batch, so every task is one invocation; everything else is the default.
    FANOUT_MIN_TASKS_PER_BATCH: '1',
    [ENV.collectorMaxParallel]: String(count),
    FANOUT_MAX_BATCHES_PER_MANAGER: String(count),
  };
  const floor = await floorOnce(count);
  const manager = await managerOnce(count, oneTask);
  const batched = await managerOnce(count, {});
  const twoParts = await twoPartsOnce(count, oneTask);
  const twoPartsBatched = await twoPartsOnce(count, {});
  return { manager, floor, batched, twoParts, twoPartsBatched };
}

export async function dispatchCase(mode: BenchMode): Promise<CaseResult> {
  const retried: RetriedFailure[] = [];
  const count = mode.quick ? 1_000 : 10_000;
  // Each repetition is five runs (floor; one manager and two dispatch parts, each with one task
  // per batch and with the default batches): one in --quick.
  const reps = mode.quick ? 1 : 3;
  mode.progress(
    `case ${CASE}: ${count} tasks; floor, one manager and two dispatch parts at one task per batch and at the default batches`,
  );
  const runs = await repeat(reps, 'run', mode, () => pairOnce(count), retried);
  const managerRate = (r: DispatchPair) => r.manager.dispatched / (r.manager.runMs / 1000);
  const floorRate = (r: DispatchPair) => r.floor.invocations / (r.floor.runMs / 1000);
  const twoPartRate = (r: DispatchPair) => r.twoParts.dispatched / (r.twoParts.windowMs / 1000);
  return {
    figures: [
      {
        caseId: CASE,
        metric: `invocations/s (${count} tasks)`,
        unit: '/s',
        samples: runs.map(managerRate),
        target: { op: '>=', value: 2_000 },
      },
      {
        caseId: CASE,
        metric: `floor: bare Invoke/s (${FLOOR_CONCURRENCY} at a time)`,
        unit: '/s',
        samples: runs.map(floorRate),
      },
      {
        caseId: CASE,
        metric: 'manager / floor',
        unit: 'x',
        samples: runs.map((r) => managerRate(r) / floorRate(r)),
        target: { op: '>=', value: RATIO_TARGET },
      },
      {
        caseId: CASE,
        metric: `tasks/s, default batch sizes (${count} tasks)`,
        unit: '/s',
        samples: runs.map((r) => r.batched.tasks / (r.batched.runMs / 1000)),
      },
      {
        caseId: CASE,
        metric: 'invocations lost',
        unit: '',
        samples: runs.map((r) => count - r.manager.arrived),
        target: { op: '<=', value: 0 },
      },
      {
        caseId: CASE,
        metric: `two dispatch parts: invocations/s (${count} tasks)`,
        unit: '/s',
        samples: runs.map(twoPartRate),
      },
      {
        caseId: CASE,
        metric: 'two dispatch parts / one manager',
        unit: 'x',
        samples: runs.map((r) => twoPartRate(r) / managerRate(r)),
      },
      {
        caseId: CASE,
        metric: `two dispatch parts: tasks/s, default batch sizes (${count} tasks)`,
        unit: '/s',
        samples: runs.map((r) => r.twoPartsBatched.tasks / (r.twoPartsBatched.windowMs / 1000)),
      },
      {
        caseId: CASE,
        metric: 'two dispatch parts: invocations lost',
        unit: '',
        samples: runs.map(
          (r) =>
            r.twoParts.batches -
            r.twoParts.arrived +
            (r.twoPartsBatched.batches - r.twoPartsBatched.arrived),
        ),
        target: { op: '<=', value: 0 },
      },
    ],
    details: {
      retried,
      tasks: count,
      how: 'manager core startRun() in a child process (dist/dispatch-child.mjs), LambdaClient on the local Invoke endpoint in the bench process, a counting collector stand-in; floor = bare LambdaClient Invoke (Event) calls from a child process, 32 at a time; two parts = the run planned without dispatch, then two dispatch part events handled by handleManagerEvent() in two child processes released together, rate over the window from the first start to the last end',
      runs,
    },
  };
}

import { type RunStatus, runIdFromTime } from '@fanout/shared';
import { type Chaos, NO_CHAOS } from './chaos.js';
import { LocalCloud, type LocalCloudOptions } from './cloud.js';
import { startDemoSources } from './demo/index.js';
import { RunIncompleteError } from './errors.js';
import { RunRecordReader } from './run-records.js';

type DemoSources = Awaited<ReturnType<typeof startDemoSources>>;
export type DemoOptions = Parameters<typeof startDemoSources>[0];

export interface SessionOptions extends Omit<LocalCloudOptions, 'chaos'> {
  readonly chaos?: Chaos;
  readonly demo?: DemoOptions;
  /** A source manifest document to run instead of the demo manifest. */
  readonly manifest?: unknown;
}

export interface CycleResult {
  readonly runId: string;
  readonly status: RunStatus;
  readonly deadLettered: number;
  readonly durationMs: number;
}

export interface CycleOptions {
  /** Scheduled time of the cycle (fixes the run id). */
  readonly time: Date;
  /**
   * `schedule` (default): the schedule fires at `time`, a run of the schedule's chain.
   * `manual`: a manual run (`fanout.manual`) at `time`, off the schedule's grid; the
   * manager logs it, so the next run of either kind continues from its state.
   */
  readonly trigger?: 'schedule' | 'manual';
  /** Give up after this long. */
  readonly maxWaitMs?: number;
  readonly onProgress?: (status: RunStatus, deadLettered: number, elapsedMs: number) => void;
  readonly pollMs?: number;
}

const DEFAULT_MAX_WAIT_MS = 10 * 60_000;

/** The local cloud plus the demo sources and their manifest: what `fanout run` drives. */
/** How many times, and how far apart, an incomplete run is looked at again once quiet. */
const SETTLE_LOOKS = 4;
const SETTLE_LOOK_MS = 500;

export class LocalSession {
  private constructor(
    readonly cloud: LocalCloud,
    readonly demo: DemoSources,
    readonly records: RunRecordReader,
  ) {}

  static async start(options: SessionOptions): Promise<LocalSession> {
    const chaos = options.chaos ?? NO_CHAOS;
    const demo = await startDemoSources({
      ...options.demo,
      faults: { errorRate: chaos.upstreamErrors, hangRate: chaos.upstreamHangs },
    });
    let cloud: LocalCloud;
    try {
      cloud = await LocalCloud.start({ ...options, chaos });
    } catch (error) {
      await demo.stop();
      throw error;
    }
    const session = new LocalSession(cloud, demo, new RunRecordReader(cloud.s3, cloud.bucket));
    await cloud.putManifest(options.manifest ?? demo.manifest());
    return session;
  }

  deadLettered(): number {
    return Object.values(this.cloud.lambda.stats()).reduce((sum, fn) => sum + fn.deadLettered, 0);
  }

  /**
   * Fires one scheduled cycle and waits until it is complete: every task has an
   * outcome, every raw object is parsed or quarantined, every queue is drained.
   */
  async cycle(options: CycleOptions): Promise<CycleResult> {
    const started = Date.now();
    const runId =
      options.trigger === 'manual'
        ? await this.cloud.startManualRun(options.time)
        : runIdFromTime((await this.cloud.fireSchedule(options.time)).time);
    const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    let settled = false;
    const settling = this.cloud.settled().then(() => {
      settled = true;
    });
    let status = await this.records.status(runId);
    while (!settled) {
      options.onProgress?.(status, this.deadLettered(), Date.now() - started);
      if (Date.now() - started > maxWaitMs) {
        throw new RunIncompleteError(
          `run ${runId} did not finish within ${Math.round(maxWaitMs / 1000)} s: ${status.pending} tasks pending, ${status.unparsed} objects waiting`,
          `look at the function logs under ${this.cloud.home}/logs`,
        );
      }
      await Promise.race([
        settling,
        new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 250)),
      ]);
      status = await this.records.status(runId);
    }
    status = await this.records.status(runId);
    // A request sent by an invocation in its last moment (killed at its timeout while its
    // pack was on the wire) can land after the queues looked quiet and start more work:
    // look again a few times before calling an incomplete run settled.
    for (let look = 0; look < SETTLE_LOOKS && !status.complete; look += 1) {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_LOOK_MS));
      await this.cloud.settled();
      status = await this.records.status(runId);
    }
    options.onProgress?.(status, this.deadLettered(), Date.now() - started);
    return { runId, status, deadLettered: this.deadLettered(), durationMs: Date.now() - started };
  }

  async stop(): Promise<void> {
    await this.cloud.stop();
    await this.demo.stop();
  }
}

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Clock, CollectorPayload, LambdaContext } from '@fanout/shared';
import { type CapturedLog, captureLog, fakeContext } from '@fanout/testkit';
import {
  type CollectorDeps,
  type CollectorSettings,
  DEFAULT_SETTINGS,
  type HttpTransport,
  type InvokeContinuation,
  type LookupFn,
  nodeHttpTransport,
  type SleepFn,
} from '../../src/index.js';

/** Test settings: fast retries, the production defaults otherwise. */
export function testSettings(overrides: Partial<CollectorSettings> = {}): CollectorSettings {
  return { ...DEFAULT_SETTINGS, retryBaseMs: 10, ...overrides };
}

/** A sleep that returns at once and remembers what it was asked to wait. */
export function recordingSleep(): SleepFn & { readonly delays: number[] } {
  const delays: number[] = [];
  const sleep = async (ms: number, signal: AbortSignal) => {
    delays.push(ms);
    signal.throwIfAborted();
  };
  return Object.assign(sleep, { delays });
}

/** A lookup that must not be reached (sources with allowPrivateNetwork skip it). */
export const noLookup: LookupFn = async (hostname) => {
  throw new Error(`unexpected DNS lookup of ${hostname}`);
};

export const nowhereS3 = {} as S3Client;

export interface TestDeps extends CollectorDeps {
  readonly log: CapturedLog;
  readonly invoked: CollectorPayload[];
  readonly sleep: SleepFn & { readonly delays: number[] };
}

export async function testDeps(
  options: {
    s3?: S3Client;
    bucket?: string;
    clock?: Clock;
    context?: LambdaContext;
    transport?: HttpTransport;
    lookup?: LookupFn;
    settings?: Partial<CollectorSettings>;
    invokeContinuation?: InvokeContinuation;
    tmpDir?: string;
  } = {},
): Promise<TestDeps> {
  const invoked: CollectorPayload[] = [];
  const clock = options.clock ?? { now: () => Date.now() };
  return {
    s3: options.s3 ?? nowhereS3,
    bucket: options.bucket ?? 'fanout-test',
    clock,
    context: options.context ?? fakeContext({ clock, timeoutMs: 300_000 }),
    transport: options.transport ?? nodeHttpTransport,
    lookup: options.lookup ?? noLookup,
    settings: testSettings(options.settings),
    log: captureLog(),
    sleep: recordingSleep(),
    random: () => 0.5,
    tmpDir: options.tmpDir ?? (await mkdtemp(join(tmpdir(), 'fanout-collector-test-'))),
    invoked,
    invokeContinuation:
      options.invokeContinuation ??
      (async (payload) => {
        invoked.push(payload);
      }),
    deadlinePollMs: 5,
  };
}

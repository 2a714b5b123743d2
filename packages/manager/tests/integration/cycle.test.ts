import { DeleteObjectsCommand } from '@aws-sdk/client-s3';
import {
  type CollectorPayload,
  offScheduleLogKey,
  parseCollectorPayload,
  parsedKeyForRaw,
  type RunManifest,
  rawPackKey,
  redispatchKey,
  runManifestKey,
  type StateSnapshot,
  sourceStateKey,
  toParsedObjectMetadata,
} from '@fanout/shared';
import { startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handleManagerEvent } from '../../src/index.js';
import { SCHEDULED, testDeps } from '../helpers/deps.js';
import { accept, type LambdaEndpoint, startLambdaEndpoint } from '../helpers/lambda-endpoint.js';
import { batchResult, countingS3Client, okOutcome, putPack } from '../helpers/records.js';

/**
 * Cycle after cycle against s3rver through the real SDK: what the manager reads and
 * writes per scheduled run, and how state gets from one run to the next.
 */

const MANIFEST_KEY = 'manifest/sources.json';
const ENV = { FANOUT_SCHEDULE: 'rate(10 minutes)' };

let s3: TestS3;
let lambda: LambdaEndpoint;

beforeAll(async () => {
  [s3, lambda] = await Promise.all([startTestS3(), startLambdaEndpoint()]);
});
afterAll(async () => {
  await Promise.all([s3.stop(), lambda.stop()]);
});

beforeEach(async () => {
  const keys = await s3.listKeys();
  if (keys.length > 0) {
    await s3.client.send(
      new DeleteObjectsCommand({
        Bucket: s3.bucket,
        Delete: { Objects: keys.map((Key) => ({ Key })) },
      }),
    );
  }
  lambda.invokes.length = 0;
  lambda.respondWith(accept);
});

function entry(id: string) {
  return { id, url: `http://127.0.0.1:9/${id}`, format: 'json' };
}

function tick(time: string) {
  return { ...SCHEDULED, id: `delivery-${time}`, time };
}

function runIdOf(time: string): string {
  return time.replace(/[-:]/g, '');
}

/** One manager invocation with its own request id; S3 requests counted by command. */
async function cycle(event: unknown, requestId: string, env: Record<string, string> = ENV) {
  const counting = countingS3Client(s3);
  const deps = {
    ...testDeps(s3, lambda.client(), env),
    store: { s3: counting.client, bucket: s3.bucket },
  };
  lambda.invokes.length = 0;
  const result = await handleManagerEvent(event, { awsRequestId: requestId }, deps);
  const counts = Object.fromEntries(counting.counts);
  counting.client.destroy();
  return { result, counts, deps };
}

function payloads(): CollectorPayload[] {
  return lambda.invokes
    .filter((invoke) => invoke.functionName === 'fanout-collector')
    .map((invoke) => parseCollectorPayload(invoke.payload));
}

function previousOf(sourceId: string) {
  return payloads()
    .flatMap((p) => p.tasks)
    .find((task) => task.source.id === sourceId)?.previous;
}

async function manifestOf(time: string): Promise<RunManifest> {
  return s3.getJson<RunManifest>(runManifestKey(runIdOf(time)));
}

/** What the collector of batch b00000 of a run leaves: a pack whose header holds the outcomes. */
async function collectorsFinish(time: string, sourceIds: readonly string[]): Promise<void> {
  const run = await manifestOf(time);
  await putPack(s3, {
    runId: run.runId,
    scheduledAt: run.scheduledAt,
    batchId: 'b00000',
    hop: 0,
    outcomes: sourceIds.map((id) => okOutcome(id, `${time.slice(0, -1)}.500Z`)),
  });
}

describe('a scheduled cycle in S3 requests', () => {
  it('costs exactly one PutObject, no LIST, and five GETs when the previous run stored a pack', async () => {
    // Prepare: run 1 at 13:00, and its collector's pack.
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a'), entry('b')] });
    const first = await cycle(tick('2026-11-25T13:00:00Z'), 'req-1');
    expect(first.result).toMatchObject({ outcome: 'dispatched', dispatched: 1 });
    await collectorsFinish('2026-11-25T13:00:00Z', ['a', 'b']);

    // Act: run 2 at 13:10
    const second = await cycle(tick('2026-11-25T13:10:00Z'), 'req-2');

    // Assess: GETs of its own run.json (absent), the previous run.json, the off-schedule
    // log (absent), the previous run's pack header and the source manifest; one PUT of
    // its own run.json.
    expect(second.result).toMatchObject({ outcome: 'dispatched', dispatched: 1 });
    expect(second.counts).toEqual({ GetObject: 5, PutObject: 1 });
    // Run 1's validators reached run 2's payloads.
    expect(previousOf('a')).toEqual({ etag: '"etag-a"' });
    expect(previousOf('b')).toEqual({ etag: '"etag-b"' });
    const state = (await manifestOf('2026-11-25T13:10:00Z')).state;
    expect(state?.mergedRuns).toEqual(['20261125T130000Z']);
    expect(state?.pendingRuns).toEqual(['20261125T131000Z']);
    expect(await s3.head(sourceStateKey())).toBeUndefined();
  });

  it('keeps a run pending while a batch has no record, and merges it when the record arrives', async () => {
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a')] });
    await cycle(tick('2026-11-25T13:00:00Z'), 'req-1');

    // Run 2: run 1's collector has not finished.
    const second = await cycle(tick('2026-11-25T13:10:00Z'), 'req-2');
    expect(second.counts.PutObject).toBe(1);
    expect(previousOf('a')).toBeUndefined();
    expect((await manifestOf('2026-11-25T13:10:00Z')).state?.pendingRuns).toEqual([
      '20261125T130000Z',
      '20261125T131000Z',
    ]);

    // Run 3: run 1's pack is there now (late); run 2's is not.
    await collectorsFinish('2026-11-25T13:00:00Z', ['a']);
    const third = await cycle(tick('2026-11-25T13:20:00Z'), 'req-3');
    expect(third.counts.PutObject).toBe(1);
    expect(previousOf('a')).toEqual({ etag: '"etag-a"' });
    const state = (await manifestOf('2026-11-25T13:20:00Z')).state;
    expect(state?.mergedRuns).toEqual(['20261125T130000Z']);
    expect(state?.pendingRuns).toEqual(['20261125T131000Z', '20261125T132000Z']);
  });
});

describe('finding the previous run', () => {
  it('walks past a missed cycle to the run before it (cron schedule)', async () => {
    const env = { FANOUT_SCHEDULE: 'cron(0/10 * * * ? *)' };
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a')] });
    await cycle(tick('2026-11-25T13:00:00Z'), 'req-1', env);
    await collectorsFinish('2026-11-25T13:00:00Z', ['a']);

    // 13:10 never ran.
    const third = await cycle(tick('2026-11-25T13:20:00Z'), 'req-3', env);

    expect(third.result).toMatchObject({ outcome: 'dispatched' });
    // One GET more than a steady cycle: the missing 13:10 run.json.
    expect(third.counts).toEqual({ GetObject: 6, PutObject: 1 });
    expect(previousOf('a')).toEqual({ etag: '"etag-a"' });
    expect((await manifestOf('2026-11-25T13:20:00Z')).state?.mergedRuns).toEqual([
      '20261125T130000Z',
    ]);
  });

  it('gives a manual run the latest state, logs it, and the next scheduled run merges it', async () => {
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a'), entry('b')] });
    await cycle(tick('2026-11-25T13:00:00Z'), 'req-1');
    await collectorsFinish('2026-11-25T13:00:00Z', ['a', 'b']);

    // The test clock reads 13:10:00 (ManualClock): the latest fire time before it is 13:00.
    const manual = await cycle({ type: 'fanout.manual', runId: 'by-hand' }, 'req-m');

    expect(manual.result).toMatchObject({ outcome: 'dispatched' });
    // Its run.json and the off-schedule log, which is how the next run finds it.
    expect(manual.counts.PutObject).toBe(2);
    expect(previousOf('a')).toEqual({ etag: '"etag-a"' });
    const byHand = await s3.getJson<RunManifest>(runManifestKey('by-hand'));
    expect(byHand.state?.mergedRuns).toEqual(['20261125T130000Z']);
    expect(byHand.state?.pendingRuns).toEqual(['by-hand']);
    expect(await s3.getJson(offScheduleLogKey())).toEqual({
      version: 1,
      entries: [{ kind: 'manual', runId: 'by-hand', at: byHand.createdAt }],
    });

    // The manual run's collector brings a new version of a.
    await putPack(s3, {
      runId: 'by-hand',
      scheduledAt: byHand.scheduledAt,
      batchId: 'b00000',
      hop: 0,
      outcomes: [
        okOutcome('a', '2026-11-25T13:10:01.000Z', { validators: { etag: '"manual-a"' } }),
        okOutcome('b', '2026-11-25T13:10:01.000Z', { validators: { etag: '"manual-b"' } }),
      ],
    });

    const next = await cycle(tick('2026-11-25T13:20:00Z'), 'req-3');

    // Scheduled, not manual: still one PUT, no LIST. GETs: its own run.json, the missing
    // 13:10 and the found 13:00 run.json, the log, the manual run's run.json (the head),
    // its pack header and the source manifest.
    expect(next.counts).toEqual({ GetObject: 7, PutObject: 1 });
    expect(previousOf('a')).toEqual({ etag: '"manual-a"' });
    expect(previousOf('b')).toEqual({ etag: '"manual-b"' });
    const state = (await manifestOf('2026-11-25T13:20:00Z')).state;
    expect(state?.mergedRuns).toEqual(['20261125T130000Z', 'by-hand']);
    expect(state?.pendingRuns).toEqual(['20261125T132000Z']);
  });

  it('carries the state through a run that failed (bad source manifest)', async () => {
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a')] });
    await cycle(tick('2026-11-25T13:00:00Z'), 'req-1');
    await collectorsFinish('2026-11-25T13:00:00Z', ['a']);
    await s3.putText(MANIFEST_KEY, '{"sources": [');
    const failed = await cycle(tick('2026-11-25T13:10:00Z'), 'req-2');
    expect(failed.result).toMatchObject({ outcome: 'failed' });
    expect(failed.counts.PutObject).toBe(1);
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a')] });

    await cycle(tick('2026-11-25T13:20:00Z'), 'req-3');

    expect(previousOf('a')).toEqual({ etag: '"etag-a"' });
  });
});

describe('migration from state/sources.json', () => {
  const legacyState: StateSnapshot = {
    version: 1,
    mergedRuns: [],
    pendingRuns: ['20261125T130000Z'],
    sources: { a: { validators: { etag: '"legacy-a"' }, durationsMs: [1_000] } },
  };

  it('reads state/sources.json when no earlier run manifest is found, and never writes it', async () => {
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a')] });
    await s3.putJson(sourceStateKey(), { ...legacyState, pendingRuns: [] });

    const run = await cycle(tick('2026-11-25T13:10:00Z'), 'req-1', {
      ...ENV,
      FANOUT_PREVIOUS_RUN_LOOKBACK: '3',
    });

    // Three run.json GETs (the lookback), the off-schedule log, two listings of run ids
    // (no run within the lookback: the last two days', then all), the state, its own
    // run.json and the source manifest.
    expect(run.counts).toEqual({ GetObject: 7, ListObjectsV2: 2, PutObject: 1 });
    expect(previousOf('a')).toEqual({ etag: '"legacy-a"' });
    expect(await s3.getJson(sourceStateKey())).toEqual({ ...legacyState, pendingRuns: [] });
  });

  it('reads it when the previous manifest predates state in manifests, and merges that run by its batch results', async () => {
    // Prepare: a run planned by the earlier version (status dispatched, no state, no plannedBy),
    // its batch result under results/, and the state that version wrote.
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a'), entry('b')] });
    const old: RunManifest = {
      runId: '20261125T130000Z',
      scheduledAt: '2026-11-25T13:00:00.000Z',
      trigger: 'schedule',
      status: 'dispatched',
      sourceCount: 2,
      batches: [{ batchId: 'b00000', sourceIds: ['a', 'b'], estimateMs: 1, payloadBytes: 1 }],
      invalidSources: [],
      createdAt: '2026-11-25T13:00:00.000Z',
      updatedAt: '2026-11-25T13:00:01.000Z',
    };
    await s3.putJson(runManifestKey(old.runId), old);
    await s3.putJson(sourceStateKey(), legacyState);
    await s3.putJson(
      'runs/20261125T130000Z/results/b00000-h0.json',
      batchResult({
        runId: old.runId,
        scheduledAt: old.scheduledAt,
        batchId: 'b00000',
        hop: 0,
        outcomes: [okOutcome('b', '2026-11-25T13:00:30.000Z')],
      }),
    );

    // Act
    await cycle(tick('2026-11-25T13:10:00Z'), 'req-2');

    // Assess: a from the legacy state, b from the old run's batch result
    expect(previousOf('a')).toEqual({ etag: '"legacy-a"' });
    expect(previousOf('b')).toEqual({ etag: '"etag-b"' });
    const state = (await manifestOf('2026-11-25T13:10:00Z')).state;
    expect(state?.mergedRuns).toEqual(['20261125T130000Z']);
  });
});

describe('continuation hops', () => {
  it('follows `continued` from hop 0 to hop 1 and merges both hops', async () => {
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a'), entry('b')] });
    await cycle(tick('2026-11-25T13:00:00Z'), 'req-1');
    const run1 = await manifestOf('2026-11-25T13:00:00Z');
    const hop = { runId: run1.runId, scheduledAt: run1.scheduledAt, batchId: 'b00000' };
    // Hop 0 fetched a and handed b on; hop 1 stored no pack (b was unchanged), only a result.
    await putPack(s3, {
      ...hop,
      hop: 0,
      outcomes: [okOutcome('a', '2026-11-25T13:00:30.000Z')],
      continued: ['b'],
    });
    await s3.putJson(
      'runs/20261125T130000Z/results/b00000-h1.json',
      batchResult({
        ...hop,
        hop: 1,
        outcomes: [
          {
            status: 'unchanged',
            sourceId: 'b',
            attempts: 1,
            durationMs: 20,
            httpStatus: 304,
            validators: { etag: '"hop1-b"' },
            finishedAt: '2026-11-25T13:01:00.000Z',
          },
        ],
      }),
    );

    const second = await cycle(tick('2026-11-25T13:10:00Z'), 'req-2');

    // Hop 0's pack, then hop 1's missing pack and its batch result: two GETs more than hop 0 alone.
    expect(second.counts).toEqual({ GetObject: 7, PutObject: 1 });
    expect(previousOf('a')).toEqual({ etag: '"etag-a"' });
    expect(previousOf('b')).toEqual({ etag: '"hop1-b"' });
    expect((await manifestOf('2026-11-25T13:10:00Z')).state?.mergedRuns).toEqual([
      '20261125T130000Z',
    ]);
  });

  it('keeps the run pending while the continuation hop has no record', async () => {
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a'), entry('b')] });
    await cycle(tick('2026-11-25T13:00:00Z'), 'req-1');
    const run1 = await manifestOf('2026-11-25T13:00:00Z');
    await putPack(s3, {
      runId: run1.runId,
      scheduledAt: run1.scheduledAt,
      batchId: 'b00000',
      hop: 0,
      outcomes: [okOutcome('a', '2026-11-25T13:00:30.000Z')],
      continued: ['b'],
    });

    const second = await cycle(tick('2026-11-25T13:10:00Z'), 'req-2');

    expect(previousOf('a')).toEqual({ etag: '"etag-a"' });
    expect(previousOf('b')).toBeUndefined();
    // Ten minutes old is young: a collector may still be on hop 1. Nothing is sent again.
    expect(second.result).toMatchObject({ redispatched: 0 });
    expect(payloads().every((p) => p.runId === '20261125T131000Z')).toBe(true);
    expect(second.counts.PutObject).toBe(1);
    const state = (await manifestOf('2026-11-25T13:10:00Z')).state;
    expect(state?.mergedRuns).toEqual([]);
    expect(state?.pendingRuns).toEqual(['20261125T130000Z', '20261125T131000Z']);
  });
});

describe('records that cannot be read', () => {
  it('counts a hop whose pack header is corrupt as settled, merging nothing from it', async () => {
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a')] });
    await cycle(tick('2026-11-25T13:00:00Z'), 'req-1');
    const run1 = await manifestOf('2026-11-25T13:00:00Z');
    await s3.putText(
      rawPackKey({ runId: run1.runId, scheduledAt: run1.scheduledAt, batchId: 'b00000', hop: 0 }),
      'not gzip at all',
    );

    const second = await cycle(tick('2026-11-25T13:10:00Z'), 'req-2');

    expect(second.result).toMatchObject({ outcome: 'dispatched' });
    expect(previousOf('a')).toBeUndefined();
    // The hop ran (its pack is there): the run is not awaited forever.
    expect((await manifestOf('2026-11-25T13:10:00Z')).state?.mergedRuns).toEqual([
      '20261125T130000Z',
    ]);
    expect(
      second.deps.log.entries.some(
        (e) => e.level === 'warn' && e.message.includes('pack header unreadable'),
      ),
    ).toBe(true);
  });
});

describe('runs that finish on their own', () => {
  const env = { ...ENV, FANOUT_REDISPATCH_AFTER_SECONDS: '300' };

  it('sends the tasks of a hop that never reported again, once, and merges what they bring', async () => {
    // Prepare: run 1's hop 0 fetched a and handed b to hop 1, which never ran.
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a'), entry('b')] });
    await cycle(tick('2026-11-25T13:00:00Z'), 'req-1', env);
    const run1 = await manifestOf('2026-11-25T13:00:00Z');
    await putPack(s3, {
      runId: run1.runId,
      scheduledAt: run1.scheduledAt,
      batchId: 'b00000',
      hop: 0,
      outcomes: [okOutcome('a', '2026-11-25T13:00:30.000Z')],
      continued: ['b'],
    });

    // Act: run 2, when run 1 is older than the collector's event age plus timeout (300 s here)
    const second = await cycle(tick('2026-11-25T13:10:00Z'), 'req-2', env);

    // Assess: b went out again as a new batch of run 1, above its planned one
    expect(second.result).toMatchObject({ outcome: 'dispatched', redispatched: 1 });
    const again = payloads().filter((p) => p.runId === run1.runId);
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({
      batchId: 'b00002',
      hop: 0,
      scheduledAt: run1.scheduledAt,
    });
    expect(again[0]?.tasks.map((t) => t.source.id)).toEqual(['b']);
    const record = await s3.getJson(redispatchKey(run1.runId, 'b00000', 1));
    expect(record).toMatchObject({ fromBatchId: 'b00000', fromHop: 1, batchId: 'b00002' });
    // One PUT for the run, one for the redispatch record: only when it happens.
    expect(second.counts.PutObject).toBe(2);
    expect((await manifestOf('2026-11-25T13:10:00Z')).state?.pendingRuns).toEqual([
      run1.runId,
      '20261125T131000Z',
    ]);

    // The new batch reports; run 3 follows the record to it.
    await putPack(s3, {
      runId: run1.runId,
      scheduledAt: run1.scheduledAt,
      batchId: 'b00002',
      hop: 0,
      outcomes: [okOutcome('b', '2026-11-25T13:12:00.000Z')],
    });
    await collectorsFinish('2026-11-25T13:10:00Z', ['a', 'b']);
    const third = await cycle(tick('2026-11-25T13:20:00Z'), 'req-3', env);

    expect(third.result).toMatchObject({ redispatched: 0 });
    expect(third.counts.PutObject).toBe(1);
    expect(payloads().every((p) => p.runId === '20261125T132000Z')).toBe(true);
    const state = (await manifestOf('2026-11-25T13:20:00Z')).state;
    expect(state?.mergedRuns).toEqual([run1.runId, '20261125T131000Z']);
    // b's latest outcome is the redispatched batch's (13:12, after run 2's at 13:10:00.5).
    expect(state?.sources.b).toMatchObject({
      lastRunId: run1.runId,
      lastFinishedAt: '2026-11-25T13:12:00.000Z',
    });
  });
});

describe('work done off the schedule', () => {
  it('merges the batches a replay logged, and sends nothing again for a hop the replay claimed', async () => {
    const env = { ...ENV, FANOUT_REDISPATCH_AFTER_SECONDS: '300' };
    // Prepare: run 1's collector died before storing anything (kill -9); a replay claimed
    // the silent hop for its batch b900000, logged it, and that batch reported.
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a'), entry('b')] });
    await cycle(tick('2026-11-25T13:00:00Z'), 'req-1', env);
    const run1 = await manifestOf('2026-11-25T13:00:00Z');
    await s3.putJson(redispatchKey(run1.runId, 'b00000', 0), {
      runId: run1.runId,
      fromBatchId: 'b00000',
      fromHop: 0,
      batchId: 'b900000',
      sourceIds: ['a', 'b'],
      dispatchedAt: '2026-11-25T13:05:00.000Z',
    });
    await s3.putJson(offScheduleLogKey(), {
      version: 1,
      entries: [
        {
          kind: 'replay',
          runId: run1.runId,
          at: '2026-11-25T13:05:00.000Z',
          batchIds: ['b900000'],
        },
      ],
    });
    await putPack(s3, {
      runId: run1.runId,
      scheduledAt: run1.scheduledAt,
      batchId: 'b900000',
      hop: 0,
      outcomes: [
        okOutcome('a', '2026-11-25T13:05:01.000Z', { validators: { etag: '"replayed-a"' } }),
        okOutcome('b', '2026-11-25T13:05:01.000Z', { validators: { etag: '"replayed-b"' } }),
      ],
    });

    // Act: the next scheduled run, past the redispatch age of run 1.
    const second = await cycle(tick('2026-11-25T13:10:00Z'), 'req-2', env);

    // Assess: nothing of run 1 went out again; its replayed outcomes are the state.
    expect(second.result).toMatchObject({ outcome: 'dispatched', redispatched: 0 });
    expect(second.counts.PutObject).toBe(1);
    expect(payloads().every((p) => p.runId === '20261125T131000Z')).toBe(true);
    expect(previousOf('a')).toEqual({ etag: '"replayed-a"' });
    expect(previousOf('b')).toEqual({ etag: '"replayed-b"' });
    expect((await manifestOf('2026-11-25T13:10:00Z')).state?.mergedRuns).toEqual([run1.runId]);
  });

  it('merges a replay of a run already merged, logged after the state was planned', async () => {
    // Prepare: run 1 failed b; run 2 merged it (b failed); a replay then collected b.
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a'), entry('b')] });
    await cycle(tick('2026-11-25T13:00:00Z'), 'req-1');
    const run1 = await manifestOf('2026-11-25T13:00:00Z');
    await putPack(s3, {
      runId: run1.runId,
      scheduledAt: run1.scheduledAt,
      batchId: 'b00000',
      hop: 0,
      outcomes: [
        okOutcome('a', '2026-11-25T13:00:30.000Z'),
        {
          status: 'failed',
          sourceId: 'b',
          attempts: 3,
          durationMs: 100,
          reason: 'HTTP 503 from http://127.0.0.1:9/b',
          httpStatus: 503,
          finishedAt: '2026-11-25T13:00:30.000Z',
        },
      ],
    });
    await cycle(tick('2026-11-25T13:10:00Z'), 'req-2');
    expect(previousOf('b')).toBeUndefined();
    const run2 = await manifestOf('2026-11-25T13:10:00Z');
    await collectorsFinish('2026-11-25T13:10:00Z', []);
    const replayedAt = new Date(Date.parse(run2.createdAt) + 60_000).toISOString();
    await s3.putJson(offScheduleLogKey(), {
      version: 1,
      entries: [{ kind: 'replay', runId: run1.runId, at: replayedAt, batchIds: ['b900000'] }],
    });
    await putPack(s3, {
      runId: run1.runId,
      scheduledAt: run1.scheduledAt,
      batchId: 'b900000',
      hop: 0,
      outcomes: [okOutcome('b', replayedAt, { validators: { etag: '"replayed-b"' } })],
    });

    await cycle(tick('2026-11-25T13:20:00Z'), 'req-3');

    expect(previousOf('b')).toEqual({ etag: '"replayed-b"' });
  });

  it('finds the latest run by listing run ids when none is within the lookback, once', async () => {
    const env = { ...ENV, FANOUT_PREVIOUS_RUN_LOOKBACK: '2' };
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a')] });
    await cycle(tick('2026-11-25T13:00:00Z'), 'req-1', env);
    await collectorsFinish('2026-11-25T13:00:00Z', ['a']);

    // Three cycles missed: 13:10, 13:20 and 13:30 are past the lookback of 2 at 13:40.
    const late = await cycle(tick('2026-11-25T13:40:00Z'), 'req-2', env);
    const next = await cycle(tick('2026-11-25T13:50:00Z'), 'req-3', env);

    expect(late.counts.ListObjectsV2).toBe(1);
    expect((await manifestOf('2026-11-25T13:40:00Z')).state?.mergedRuns).toEqual([
      '20261125T130000Z',
    ]);
    // The run after it finds its previous run by key again: no listing.
    expect(next.counts.ListObjectsV2).toBeUndefined();
  });
});

describe('an edited source', () => {
  it('is fetched in full once: its validators are dropped when it is planned', async () => {
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a'), entry('b')] });
    await cycle(tick('2026-11-25T13:00:00Z'), 'req-1');
    await collectorsFinish('2026-11-25T13:00:00Z', ['a', 'b']);
    await s3.putJson(MANIFEST_KEY, {
      sources: [{ ...entry('a'), options: { recordsPath: 'data.items' } }, entry('b')],
    });

    await cycle(tick('2026-11-25T13:10:00Z'), 'req-2');

    expect(previousOf('a')).toBeUndefined();
    expect(previousOf('b')).toEqual({ etag: '"etag-b"' });
    const state = (await manifestOf('2026-11-25T13:10:00Z')).state;
    expect(state?.sources.a?.validators).toEqual({});
    expect(state?.sources.a?.definition).not.toBe(state?.sources.b?.definition);

    // Its next fetch brings new validators for the new definition; the run after sends them.
    await collectorsFinish('2026-11-25T13:10:00Z', ['a', 'b']);
    await cycle(tick('2026-11-25T13:20:00Z'), 'req-3');
    expect(previousOf('a')).toEqual({ etag: '"etag-a"' });
  });
});

describe('sources that emit changes or read incrementally', () => {
  const sources = () => ({
    sources: [
      { ...entry('api'), cursor: { field: 'updated', param: 'since' } },
      { ...entry('news'), emit: 'changes', key: ['id'] },
      entry('plain'),
    ],
  });

  /** Run 1's collector stores its pack; its parser, unless told not to, the parsed object. */
  async function collectedAndParsed(time: string, cursors: Record<string, string> | undefined) {
    const run = await manifestOf(time);
    const at = { runId: run.runId, scheduledAt: run.scheduledAt, batchId: 'b00000', hop: 0 };
    const pack = rawPackKey(at);
    await putPack(s3, {
      ...at,
      outcomes: ['api', 'news', 'plain'].map((id) =>
        okOutcome(id, `${time.slice(0, -1)}.500Z`, { rawKeys: [pack, pack] }),
      ),
    });
    if (cursors !== undefined) {
      const outcome = {
        runId: run.runId,
        rawKey: pack,
        pages: 3,
        parsed: 3,
        quarantined: 0,
        quarantinedPages: [],
        cursors,
        records: 9,
        bytesIn: 100,
        bytesOut: 100,
        parsedAt: time,
      };
      await s3.putText(parsedKeyForRaw(pack), 'x', toParsedObjectMetadata(outcome));
    }
    return pack;
  }

  function taskOf(sourceId: string) {
    return payloads()
      .flatMap((p) => p.tasks)
      .find((task) => task.source.id === sourceId);
  }

  it("carries the previous fetch's raw keys and the parser's cursor to the next tasks, for one HEAD", async () => {
    // Prepare
    await s3.putJson(MANIFEST_KEY, sources());
    await cycle(tick('2026-11-25T13:00:00Z'), 'req-1');
    const pack = await collectedAndParsed('2026-11-25T13:00:00Z', {
      api: '"2026-11-25T13:00:00.250+01:00"',
    });

    // Act
    const second = await cycle(tick('2026-11-25T13:10:00Z'), 'req-2');

    // Assess: the five GETs of any cycle, one HEAD of the pack's parsed object, one PUT.
    expect(second.counts).toEqual({ GetObject: 5, HeadObject: 1, PutObject: 1 });
    expect(taskOf('api')).toMatchObject({ cursor: '"2026-11-25T13:00:00.250+01:00"' });
    expect(taskOf('api')?.previousRawKeys).toBeUndefined();
    expect(taskOf('news')).toMatchObject({ previousRawKeys: [pack] });
    expect(taskOf('news')?.cursor).toBeUndefined();
    expect(taskOf('plain')).not.toHaveProperty('previousRawKeys');
    expect(taskOf('plain')).not.toHaveProperty('cursor');
    const state = (await manifestOf('2026-11-25T13:10:00Z')).state?.sources;
    expect(state?.api?.cursor).toBe('"2026-11-25T13:00:00.250+01:00"');
    expect(state?.news?.rawKeys).toEqual([pack]);
  });

  it('keeps the cursor where it was while the parse has not reported one', async () => {
    // Prepare: run 1's pack is there, its parsed object is not (parsed late, or quarantined).
    await s3.putJson(MANIFEST_KEY, sources());
    await cycle(tick('2026-11-25T13:00:00Z'), 'req-1');
    await collectedAndParsed('2026-11-25T13:00:00Z', undefined);

    // Act
    const second = await cycle(tick('2026-11-25T13:10:00Z'), 'req-2');

    // Assess
    expect(second.counts).toEqual({ GetObject: 5, HeadObject: 1, PutObject: 1 });
    expect(taskOf('api')).not.toHaveProperty('cursor');
    expect(second.deps.log.entries.map((e) => e.message)).toContain(
      'cursor not advanced: a raw object of the fetch reports none',
    );
  });

  it('drops the cursor and the previous fetch of a source whose cursor or definition was edited', async () => {
    // Prepare
    await s3.putJson(MANIFEST_KEY, sources());
    await cycle(tick('2026-11-25T13:00:00Z'), 'req-1');
    await collectedAndParsed('2026-11-25T13:00:00Z', { api: '42' });
    await cycle(tick('2026-11-25T13:10:00Z'), 'req-2');
    expect(taskOf('api')?.cursor).toBe('42');
    const edited = sources();
    edited.sources[0] = { ...entry('api'), cursor: { field: 'seq', param: 'after' } };
    edited.sources[1] = {
      ...entry('news'),
      emit: 'changes',
      key: ['id'],
      url: 'http://127.0.0.1:9/v2',
    };
    await s3.putJson(MANIFEST_KEY, edited);

    // Act
    await cycle(tick('2026-11-25T13:20:00Z'), 'req-3');

    // Assess: both fetched in full, every record written.
    expect(taskOf('api')).not.toHaveProperty('cursor');
    expect(taskOf('news')).not.toHaveProperty('previousRawKeys');
  });
});

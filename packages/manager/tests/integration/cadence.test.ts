import { DeleteObjectsCommand } from '@aws-sdk/client-s3';
import {
  type CollectorPayload,
  computeRunStatus,
  parseCollectorPayload,
  type RunManifest,
  runManifestKey,
} from '@fanout/shared';
import { ManualClock, startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handleManagerEvent } from '../../src/index.js';
import { SCHEDULED, testDeps } from '../helpers/deps.js';
import { accept, type LambdaEndpoint, startLambdaEndpoint } from '../helpers/lambda-endpoint.js';
import { okOutcome, putPack } from '../helpers/records.js';

/**
 * Per-source cadence against s3rver through the real SDK: a scheduled run plans only
 * the sources due at its scheduled time and records the others as not due.
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

function entry(id: string, every?: string) {
  return { id, url: `http://127.0.0.1:9/${id}`, format: 'json', ...(every ? { every } : {}) };
}

/** Every 10 minutes, hourly, half-hourly, daily at 06:00, and at :05 past each hour. */
const MIXED = {
  sources: [
    entry('always'),
    entry('hourly', '1h'),
    entry('half-hourly', '30m'),
    entry('daily', 'cron(0 6 * * ? *)'),
    entry('five-past', 'cron(5 * * * ? *)'),
  ],
};

function tick(time: string) {
  return { ...SCHEDULED, id: `delivery-${time}`, time };
}

function runIdOf(time: string): string {
  return time.replace(/[-:]/g, '');
}

/** One manager invocation, a second after the event's time (so no earlier run looks stalled). */
async function cycle(
  event: { readonly time: string; readonly [field: string]: unknown },
  requestId: string,
) {
  lambda.invokes.length = 0;
  const deps = {
    ...testDeps(s3, lambda.client(), ENV),
    clock: new ManualClock(Date.parse(event.time) + 1_000),
  };
  return handleManagerEvent(event, { awsRequestId: requestId }, deps);
}

function payloads(): CollectorPayload[] {
  return lambda.invokes
    .filter((invoke) => invoke.functionName === 'fanout-collector')
    .map((invoke) => parseCollectorPayload(invoke.payload));
}

function dispatchedSourceIds(): string[] {
  return payloads()
    .flatMap((payload) => payload.tasks.map((task) => task.source.id))
    .sort();
}

async function manifestOf(time: string): Promise<RunManifest> {
  return s3.getJson<RunManifest>(runManifestKey(runIdOf(time)));
}

function plannedIds(run: RunManifest): string[] {
  return run.batches.flatMap((batch) => batch.sourceIds).sort();
}

describe('a scheduled run plans only the sources due at its scheduled time', () => {
  it('plans the due sources at 06:00 and the others at 06:10, over two scheduled times', async () => {
    // Prepare
    await s3.putJson(MANIFEST_KEY, MIXED);

    // Act: two consecutive fire times of the stack's schedule.
    const first = await cycle(tick('2026-11-25T06:00:00Z'), 'req-1');
    const firstDispatched = dispatchedSourceIds();
    const second = await cycle(tick('2026-11-25T06:10:00Z'), 'req-2');
    const secondDispatched = dispatchedSourceIds();

    // Assess: 06:00 is a whole hour, half hour and the daily time; :05 fell in (06:00, 06:10].
    expect(first).toMatchObject({ outcome: 'dispatched', tasks: 4, notDue: 1 });
    expect(firstDispatched).toEqual(['always', 'daily', 'half-hourly', 'hourly']);
    const firstRun = await manifestOf('2026-11-25T06:00:00Z');
    expect(plannedIds(firstRun)).toEqual(firstDispatched);
    expect(firstRun.notDueSourceIds).toEqual(['five-past']);
    expect(firstRun.sourceCount).toBe(4);

    expect(second).toMatchObject({ outcome: 'dispatched', tasks: 2, notDue: 3 });
    expect(secondDispatched).toEqual(['always', 'five-past']);
    const secondRun = await manifestOf('2026-11-25T06:10:00Z');
    expect(plannedIds(secondRun)).toEqual(secondDispatched);
    expect(secondRun.notDueSourceIds).toEqual(['hourly', 'half-hourly', 'daily']);
  });

  it('counts not-due sources apart in the run status: neither pending nor failed', async () => {
    // Prepare
    await s3.putJson(MANIFEST_KEY, MIXED);
    await cycle(tick('2026-11-25T06:10:00Z'), 'req-1');
    const run = await manifestOf('2026-11-25T06:10:00Z');

    // Act: the status once the collector of the one batch has reported both its sources.
    const status = computeRunStatus(run.runId, {
      manifest: run,
      results: [
        {
          runId: run.runId,
          batchId: 'b00000',
          hop: 0,
          outcomes: plannedIds(run).map((id) =>
            okOutcome(id, '2026-11-25T06:10:30.000Z', { rawKeys: [] }),
          ),
          continued: [],
          writtenAt: '2026-11-25T06:10:30.000Z',
        },
      ],
      failures: [],
      rawOutcomes: new Map(),
    });

    // Assess
    expect(status).toMatchObject({
      sources: 5,
      collected: 2,
      notDue: 3,
      pending: 0,
      failed: 0,
      complete: true,
    });
  });

  it('gives a duplicate delivery of the tick nothing to do, and a retry the same plan', async () => {
    // Prepare
    await s3.putJson(MANIFEST_KEY, MIXED);
    await cycle(tick('2026-11-25T06:10:00Z'), 'req-1');
    const planned = await manifestOf('2026-11-25T06:10:00Z');

    // Act
    const duplicate = await cycle(tick('2026-11-25T06:10:00Z'), 'req-2');
    const retry = await cycle(tick('2026-11-25T06:10:00Z'), 'req-1');

    // Assess: the retry dispatches the planned batch again, with the planned sources only.
    expect(duplicate.outcome).toBe('duplicate');
    expect(retry).toMatchObject({ outcome: 'continued', notDue: 3 });
    expect(dispatchedSourceIds()).toEqual(plannedIds(planned));
  });

  it('keeps the state of a source while it is not due, for its next due run', async () => {
    // Prepare: run at 06:00 collects `hourly`; its collector reports an etag.
    await s3.putJson(MANIFEST_KEY, { sources: [entry('always'), entry('hourly', '1h')] });
    await cycle(tick('2026-11-25T06:00:00Z'), 'req-1');
    const first = await manifestOf('2026-11-25T06:00:00Z');
    await putPack(s3, {
      runId: first.runId,
      scheduledAt: first.scheduledAt,
      batchId: 'b00000',
      hop: 0,
      outcomes: plannedIds(first).map((id) => okOutcome(id, '2026-11-25T06:00:30.000Z')),
    });

    // Act: five runs where `hourly` is not due, then 07:00 where it is.
    for (const time of ['06:10', '06:20', '06:30', '06:40', '06:50']) {
      await cycle(tick(`2026-11-25T${time}:00Z`), `req-${time}`);
      expect(dispatchedSourceIds(), time).toEqual(['always']);
    }
    await cycle(tick('2026-11-25T07:00:00Z'), 'req-7');

    // Assess
    const hourly = payloads()
      .flatMap((payload) => payload.tasks)
      .find((task) => task.source.id === 'hourly');
    expect(hourly?.previous).toEqual({ etag: '"etag-hourly"' });
  });

  it('plans every selected source on a manual run, whatever its cadence', async () => {
    // Prepare
    await s3.putJson(MANIFEST_KEY, MIXED);

    // Act
    const result = await cycle(
      { type: 'fanout.manual', runId: 'manual-1', time: '2026-11-25T06:10:00Z' },
      'req-1',
    );

    // Assess
    expect(result).toMatchObject({ outcome: 'dispatched', tasks: 5, notDue: 0 });
    expect(dispatchedSourceIds()).toHaveLength(5);
    expect(
      (await s3.getJson<RunManifest>(runManifestKey('manual-1'))).notDueSourceIds,
    ).toBeUndefined();
  });

  it('records a cadence finer than the stack schedule as an invalid source naming both', async () => {
    // Prepare
    await s3.putJson(MANIFEST_KEY, { sources: [entry('always'), entry('fast', '5m')] });

    // Act
    const result = await cycle(tick('2026-11-25T06:00:00Z'), 'req-1');

    // Assess
    expect(result).toMatchObject({ outcome: 'dispatched', tasks: 1, invalidSources: 1 });
    const run = await manifestOf('2026-11-25T06:00:00Z');
    expect(run.invalidSources).toEqual([
      {
        index: 1,
        id: 'fast',
        errors: [
          `sources[1].every: is finer than the stack's schedule rate(10 minutes) (fire times 5 minutes apart, the schedule's 10 minutes): a source is collected at most once per scheduled run, got "5m"`,
        ],
      },
    ]);
  });
});

import { DeleteObjectsCommand } from '@aws-sdk/client-s3';
import {
  BatchFailureSchema,
  type BatchResult,
  batchFailureKey,
  batchResultKey,
  type CollectorPayload,
  parseCollectorPayload,
  type RunManifest,
  runManifestKey,
  type StateSnapshot,
  sourceStateKey,
} from '@fanout/shared';
import { startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handleManagerEvent, type RunSummary } from '../../src/index.js';
import { SCHEDULED, SCHEDULED_RUN_ID, testDeps } from '../helpers/deps.js';
import {
  accept,
  type LambdaEndpoint,
  startLambdaEndpoint,
  throttle,
} from '../helpers/lambda-endpoint.js';

const MANIFEST_KEY = 'manifest/sources.json';
const context = { awsRequestId: 'req-1' };

function entry(id: string, extra: Record<string, unknown> = {}) {
  return { id, url: `http://127.0.0.1:9/${id}`, format: 'json', ...extra };
}

let s3: TestS3;
let lambda: LambdaEndpoint;

beforeAll(async () => {
  [s3, lambda] = await Promise.all([startTestS3(), startLambdaEndpoint()]);
});
afterAll(async () => {
  await Promise.all([s3.stop(), lambda.stop()]);
});

/** Each test starts from an empty bucket and a fresh endpoint log. */
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

async function run(event: unknown, env: Record<string, string> = {}) {
  const deps = testDeps(s3, lambda.client(), env);
  const result = await handleManagerEvent(event, context, deps);
  return { result, deps };
}

function collectorPayloads(): CollectorPayload[] {
  return lambda.invokes
    .filter((invoke) => invoke.functionName === 'fanout-collector')
    .map((invoke) => parseCollectorPayload(invoke.payload));
}

describe('manager -> collector payloads, through the real SDK and S3', () => {
  it('plans, records the run first, and sends every valid source in exactly one valid payload', async () => {
    // Prepare: 60 good sources and 3 bad entries.
    const good = Array.from({ length: 60 }, (_, i) =>
      entry(`src-${i}`, { expectedDurationMs: 1_000 }),
    );
    await s3.putJson(MANIFEST_KEY, {
      version: 1,
      sources: [
        ...good.slice(0, 10),
        entry('bad-url', { url: 'ftp://example.invalid/x' }),
        { url: 'http://127.0.0.1:9/no-id', format: 'json' },
        ...good.slice(10),
        entry('src-3'),
      ],
    });

    // Act
    const { result } = await run(SCHEDULED, {
      FANOUT_PAYLOAD_LIMIT_BYTES: '16384',
      FANOUT_PAYLOAD_MARGIN_BYTES: '1024',
    });

    // Assess: the invocations
    const payloads = collectorPayloads();
    expect(result).toMatchObject({
      outcome: 'dispatched',
      runId: SCHEDULED_RUN_ID,
      tasks: 60,
      invalidSources: 3,
    });
    expect((result as RunSummary).dispatched).toBe(payloads.length);
    expect(lambda.invokes.every((invoke) => invoke.invocationType === 'Event')).toBe(true);
    for (const invoke of lambda.invokes) expect(invoke.bytes).toBeLessThanOrEqual(16_384 - 1_024);
    const sent = payloads.flatMap((p) => p.tasks.map((t) => t.source.id)).sort();
    expect(sent).toEqual(good.map((g) => g.id).sort());
    expect(new Set(payloads.map((p) => p.batchId)).size).toBe(payloads.length);
    for (const payload of payloads) {
      expect(payload).toMatchObject({
        runId: SCHEDULED_RUN_ID,
        scheduledAt: '2026-11-25T13:10:00.000Z',
        hop: 0,
      });
    }

    // Assess: the run manifest matches what was sent
    const manifest = await s3.getJson<RunManifest>(runManifestKey(SCHEDULED_RUN_ID));
    expect(manifest.status).toBe('dispatched');
    expect(manifest.sourceCount).toBe(63);
    expect(manifest.batches.map((b) => b.batchId).sort()).toEqual(
      payloads.map((p) => p.batchId).sort(),
    );
    expect(manifest.invalidSources).toEqual([
      {
        index: 10,
        id: 'bad-url',
        errors: ['sources[10].url: must be http or https, got "ftp://example.invalid/x"'],
      },
      { index: 11, errors: [expect.stringMatching(/^sources\[11\]\.id: .*got nothing$/)] },
      { index: 62, id: 'src-3', errors: ['sources[62].id: duplicate id, got "src-3"'] },
    ]);

    // Assess: the state remembers the run so its results get merged next time
    const state = await s3.getJson<StateSnapshot>(sourceStateKey());
    expect(state.pendingRuns).toEqual([SCHEDULED_RUN_ID]);
  });

  it('fails the run with a record that says why when the manifest is not JSON', async () => {
    await s3.putText(MANIFEST_KEY, '{"version": 1, "sources": [');

    const { result } = await run(SCHEDULED);

    expect(result).toMatchObject({ outcome: 'failed' });
    expect(lambda.invokes).toHaveLength(0);
    const manifest = await s3.getJson<RunManifest>(runManifestKey(SCHEDULED_RUN_ID));
    expect(manifest).toMatchObject({ status: 'failed', batches: [], sourceCount: 0 });
    expect(manifest.reason).toMatch(
      /manifest\/sources\.json: invalid source manifest: \(root\): not valid JSON/,
    );
  });

  it('fails the run when the manifest has the wrong top-level shape or is missing', async () => {
    await s3.putJson(MANIFEST_KEY, { version: 2, sources: {} });
    await run(SCHEDULED);
    const wrong = await s3.getJson<RunManifest>(runManifestKey(SCHEDULED_RUN_ID));
    expect(wrong.reason).toContain('version');
    expect(wrong.reason).toContain('sources');

    const missing = await run(
      { type: 'fanout.manual', runId: 'no-manifest' },
      { FANOUT_MANIFEST_KEY: 'manifest/none.json' },
    );
    expect(missing.result).toMatchObject({ outcome: 'failed' });
    const record = await s3.getJson<RunManifest>(runManifestKey('no-manifest'));
    expect(record.reason).toBe(
      `source manifest s3://${s3.bucket}/manifest/none.json does not exist`,
    );
  });

  it('does nothing new on a duplicate delivery of the same schedule tick', async () => {
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a'), entry('b')] });

    const first = await run(SCHEDULED);
    const invoked = lambda.invokes.length;
    const again = await run({ ...SCHEDULED, id: 'another-delivery-id' });

    expect(first.result).toMatchObject({ outcome: 'dispatched' });
    expect(invoked).toBeGreaterThan(0);
    expect(again.result).toMatchObject({ outcome: 'duplicate', runId: SCHEDULED_RUN_ID });
    expect(lambda.invokes).toHaveLength(invoked);
  });

  it('continues a planned run, dispatching only batches with no result and no failure record', async () => {
    // Prepare: a run whose first attempt stopped after planning; b00000 reported, b00001 failed.
    const sources = Array.from({ length: 40 }, (_, i) => entry(`c${i}`));
    await s3.putJson(MANIFEST_KEY, { sources });
    await run(
      { type: 'fanout.manual', runId: 'resume-me', time: '2026-11-25T13:20:00Z' },
      { FANOUT_MIN_TASKS_PER_BATCH: '10' },
    );
    const planned = await s3.getJson<RunManifest>(runManifestKey('resume-me'));
    expect(planned.batches).toHaveLength(4);
    await s3.putJson(runManifestKey('resume-me'), { ...planned, status: 'planned' });
    const result: BatchResult = {
      runId: 'resume-me',
      batchId: 'b00000',
      hop: 0,
      outcomes: [],
      continued: [],
      writtenAt: '2026-11-25T13:21:00.000Z',
    };
    await s3.putJson(batchResultKey('resume-me', 'b00000', 0), result);
    await s3.putJson(batchFailureKey('resume-me', 'b00001', 0), { kind: 'dispatch-failed' });
    lambda.invokes.length = 0;

    // Act: the retried delivery
    const { result: summary } = await run({ type: 'fanout.manual', runId: 'resume-me' });

    // Assess
    expect(summary).toMatchObject({ outcome: 'continued', dispatched: 2, batches: 4 });
    const resent = collectorPayloads();
    expect(resent.map((p) => p.batchId).sort()).toEqual(['b00002', 'b00003']);
    for (const payload of resent) {
      const plannedIds = planned.batches.find((b) => b.batchId === payload.batchId)?.sourceIds;
      expect(payload.tasks.map((t) => t.source.id)).toEqual(plannedIds);
      expect(payload.scheduledAt).toBe('2026-11-25T13:20:00.000Z');
    }
    expect((await s3.getJson<RunManifest>(runManifestKey('resume-me'))).status).toBe('dispatched');
  });

  it('backs off on TooManyRequestsException from the Invoke endpoint and then dispatches', async () => {
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a')] });
    lambda.respondWith((invoke, index) => (index < 2 ? throttle : accept(invoke, index)));

    const { result, deps } = await run(SCHEDULED);

    expect(result).toMatchObject({ outcome: 'dispatched', dispatched: 1, failed: 0 });
    expect(lambda.invokes).toHaveLength(3);
    expect(deps.sleeps).toEqual([150, 300]);
  });

  it('records a batch that stays throttled as dispatch-failed with its payload, replayable', async () => {
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a'), entry('b')] });
    lambda.respondWith(() => throttle);

    const { result } = await run(SCHEDULED, { FANOUT_DISPATCH_MAX_ATTEMPTS: '3' });

    expect(result).toMatchObject({ outcome: 'dispatched', dispatched: 0, failed: 1 });
    expect(lambda.invokes).toHaveLength(3);
    const failure = BatchFailureSchema.parse(
      await s3.getJson(batchFailureKey(SCHEDULED_RUN_ID, 'b00000', 0)),
    );
    expect(failure.kind).toBe('dispatch-failed');
    expect(failure.sourceIds.sort()).toEqual(['a', 'b']);
    expect(failure.reason).toContain('TooManyRequestsException');
    expect(
      parseCollectorPayload(failure.payload)
        .tasks.map((t) => t.source.id)
        .sort(),
    ).toEqual(['a', 'b']);
  });

  it('waits for collectors in RequestResponse mode and records their FunctionError', async () => {
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a')] });
    lambda.respondWith(() => ({
      status: 200,
      headers: { 'x-amz-function-error': 'Unhandled' },
      body: JSON.stringify({ errorType: 'Error', errorMessage: 'collector exploded' }),
    }));

    const { result } = await run(SCHEDULED, { FANOUT_INVOCATION_TYPE: 'RequestResponse' });

    expect(lambda.invokes[0]?.invocationType).toBe('RequestResponse');
    expect(result).toMatchObject({ dispatched: 0, failed: 1 });
    const failure = BatchFailureSchema.parse(
      await s3.getJson(batchFailureKey(SCHEDULED_RUN_ID, 'b00000', 0)),
    );
    expect(failure.reason).toContain('FunctionError Unhandled');
    expect(failure.reason).toContain('collector exploded');
  });

  it('applies a manual trigger source filter and reports names not in the manifest', async () => {
    await s3.putJson(MANIFEST_KEY, {
      sources: [entry('a'), entry('b'), entry('c'), entry('bad', { format: 'XML!' })],
    });

    const { result } = await run({
      type: 'fanout.manual',
      runId: 'only-some',
      sources: ['a', 'c', 'zzz'],
    });

    expect(result).toMatchObject({ outcome: 'dispatched', tasks: 2, invalidSources: 1 });
    expect(
      collectorPayloads()
        .flatMap((p) => p.tasks.map((t) => t.source.id))
        .sort(),
    ).toEqual(['a', 'c']);
    const manifest = await s3.getJson<RunManifest>(runManifestKey('only-some'));
    expect(manifest.invalidSources).toEqual([
      {
        index: -1,
        id: 'zzz',
        errors: ['sources: "zzz" is named by the manual trigger but not in the manifest'],
      },
    ]);
  });
});

describe('state between runs', () => {
  it('merges the previous run results: validators go to collectors, measured durations drive batch sizes', async () => {
    // Prepare: run 1 plans 40 sources hinted at 1 s; all fit one batch.
    const sources = Array.from({ length: 40 }, (_, i) =>
      entry(`s${i}`, { expectedDurationMs: 1_000 }),
    );
    await s3.putJson(MANIFEST_KEY, { sources });
    const env = {
      FANOUT_BATCH_BUDGET_MS: '20000',
      FANOUT_COLLECTOR_CONCURRENCY: '4',
      FANOUT_COLLECTOR_MAX_PARALLEL: '1',
    };
    await run({ type: 'fanout.manual', runId: 'run-1', time: '2026-11-25T13:00:00Z' }, env);
    const first = await s3.getJson<RunManifest>(runManifestKey('run-1'));
    expect(first.batches).toHaveLength(1);
    // The collectors report: every source took 5 s; s0 has an etag.
    const sha256 = 'c'.repeat(64);
    await s3.putJson(batchResultKey('run-1', 'b00000', 0), {
      runId: 'run-1',
      batchId: 'b00000',
      hop: 0,
      outcomes: sources.map((s) => ({
        status: 'ok',
        sourceId: s.id,
        attempts: 1,
        durationMs: 5_000,
        httpStatus: 200,
        bytes: 10,
        rawKeys: [`raw/source=${s.id}/dt=2026-11-25/run-1-p0000.json`],
        validators: s.id === 's0' ? { etag: '"e1"', sha256 } : { sha256 },
        finishedAt: '2026-11-25T13:00:30.000Z',
      })),
      continued: [],
      writtenAt: '2026-11-25T13:00:31.000Z',
    } satisfies BatchResult);
    lambda.invokes.length = 0;

    // Act: run 2
    await run({ type: 'fanout.manual', runId: 'run-2', time: '2026-11-25T13:10:00Z' }, env);

    // Assess: 4 slots x 20 s / 5 s = 16 tasks per batch -> 3 batches
    const second = await s3.getJson<RunManifest>(runManifestKey('run-2'));
    expect(second.batches).toHaveLength(3);
    const tasks = collectorPayloads().flatMap((p) => p.tasks);
    expect(tasks.every((t) => t.estimateMs === 5_000)).toBe(true);
    expect(tasks.find((t) => t.source.id === 's0')?.previous).toEqual({ etag: '"e1"', sha256 });
    const state = await s3.getJson<StateSnapshot>(sourceStateKey());
    expect(state.mergedRuns).toEqual(['run-1']);
    expect(state.pendingRuns).toEqual(['run-2']);
    expect(state.sources.s1).toMatchObject({
      durationsMs: [5_000],
      lastRunId: 'run-1',
      lastStatus: 'ok',
    });
  });

  it('treats a corrupt state snapshot as empty instead of failing the run', async () => {
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a')] });
    await s3.putText(sourceStateKey(), 'not json');

    const { result, deps } = await run(SCHEDULED);

    expect(result).toMatchObject({ outcome: 'dispatched', dispatched: 1 });
    expect(
      deps.log.entries.some((e) => e.level === 'warn' && e.message.includes('state snapshot')),
    ).toBe(true);
    const state = await s3.getJson<StateSnapshot>(sourceStateKey());
    expect(state.pendingRuns).toEqual([SCHEDULED_RUN_ID]);
  });
});

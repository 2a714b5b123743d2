import { DeleteObjectsCommand } from '@aws-sdk/client-s3';
import {
  BatchFailureSchema,
  batchFailureKey,
  batchResultKey,
  type CollectorPayload,
  parseCollectorPayload,
  type RunManifest,
  runManifestKey,
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
import { batchResult, countingS3Client, okOutcome, putPack } from '../helpers/records.js';

const MANIFEST_KEY = 'manifest/sources.json';

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

async function run(event: unknown, env: Record<string, string> = {}, requestId = 'req-1') {
  const deps = testDeps(s3, lambda.client(), env);
  const result = await handleManagerEvent(event, { awsRequestId: requestId }, deps);
  return { result, deps };
}

function scheduledAt(time: string) {
  return { ...SCHEDULED, time };
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
    // Written once, before any invocation; never rewritten as `dispatched`.
    expect(manifest.status).toBe('planned');
    expect(manifest.plannedBy).toBe('req-1');
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

    // Assess: the state travels in the manifest and queues the run for the next one to merge
    expect(manifest.state?.pendingRuns).toEqual([SCHEDULED_RUN_ID]);
    expect(await s3.head(sourceStateKey())).toBeUndefined();
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
    const planned = await s3.getJson<RunManifest>(runManifestKey(SCHEDULED_RUN_ID));
    const again = await run({ ...SCHEDULED, id: 'another-delivery-id' }, {}, 'req-other');

    expect(first.result).toMatchObject({ outcome: 'dispatched' });
    expect(invoked).toBeGreaterThan(0);
    expect(again.result).toMatchObject({ outcome: 'duplicate', runId: SCHEDULED_RUN_ID });
    expect(lambda.invokes).toHaveLength(invoked);
    expect(await s3.getJson<RunManifest>(runManifestKey(SCHEDULED_RUN_ID))).toEqual(planned);
  });

  it('continues its own run on a retry (same request id), dispatching only batches with no record', async () => {
    // Prepare: the first attempt planned 4 batches; b00000 stored a pack, b00001 a batch
    // result, b00002 could not be dispatched; then the invocation died.
    const sources = Array.from({ length: 40 }, (_, i) => entry(`c${i}`));
    await s3.putJson(MANIFEST_KEY, { sources });
    await run(
      { type: 'fanout.manual', runId: 'resume-me', time: '2026-11-25T13:20:00Z' },
      { FANOUT_MIN_TASKS_PER_BATCH: '10' },
      'req-planner',
    );
    const planned = await s3.getJson<RunManifest>(runManifestKey('resume-me'));
    expect(planned.batches).toHaveLength(4);
    const hop = { runId: 'resume-me', scheduledAt: planned.scheduledAt, hop: 0, outcomes: [] };
    await putPack(s3, { ...hop, batchId: 'b00000' });
    await s3.putJson(
      batchResultKey('resume-me', 'b00001', 0),
      batchResult({ ...hop, batchId: 'b00001' }),
    );
    await s3.putJson(batchFailureKey('resume-me', 'b00002', 0), { kind: 'dispatch-failed' });
    lambda.invokes.length = 0;
    const counting = countingS3Client(s3);

    // Act: Lambda's retry of the same invocation
    const deps = {
      ...testDeps(s3, lambda.client()),
      store: { s3: counting.client, bucket: s3.bucket },
    };
    const summary = await handleManagerEvent(
      { type: 'fanout.manual', runId: 'resume-me' },
      { awsRequestId: 'req-planner' },
      deps,
    );

    // Assess: only b00003 again, with the tasks and state of the stored plan, found without LIST
    expect(summary).toMatchObject({ outcome: 'continued', dispatched: 1, batches: 4 });
    const resent = collectorPayloads();
    expect(resent.map((p) => p.batchId)).toEqual(['b00003']);
    const plannedIds = planned.batches.find((b) => b.batchId === 'b00003')?.sourceIds;
    expect(resent[0]?.tasks.map((t) => t.source.id)).toEqual(plannedIds);
    expect(resent[0]?.scheduledAt).toBe('2026-11-25T13:20:00.000Z');
    expect(await s3.getJson<RunManifest>(runManifestKey('resume-me'))).toEqual(planned);
    // Its own run.json and the source manifest; HEADs of hop-0 keys: b00000 (pack), b00001
    // (pack, result), b00002 (pack, result, failure), b00003 (three misses). Nothing written.
    expect(Object.fromEntries(counting.counts)).toEqual({ GetObject: 2, HeadObject: 9 });
  });

  it('continues a planned run written by an earlier version (no plannedBy)', async () => {
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a')] });
    await run({ type: 'fanout.manual', runId: 'old-run' }, {}, 'req-a');
    const { plannedBy: _drop, ...older } = await s3.getJson<RunManifest>(runManifestKey('old-run'));
    await s3.putJson(runManifestKey('old-run'), older);
    lambda.invokes.length = 0;

    const { result } = await run({ type: 'fanout.manual', runId: 'old-run' }, {}, 'req-b');

    expect(result).toMatchObject({ outcome: 'continued', dispatched: 1 });
    expect(collectorPayloads().map((p) => p.batchId)).toEqual(['b00000']);
  });

  it('does nothing for a run an earlier version marked dispatched, whoever delivers it', async () => {
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a')] });
    await run(SCHEDULED, {}, 'req-a');
    const planned = await s3.getJson<RunManifest>(runManifestKey(SCHEDULED_RUN_ID));
    await s3.putJson(runManifestKey(SCHEDULED_RUN_ID), { ...planned, status: 'dispatched' });
    lambda.invokes.length = 0;

    const { result } = await run(SCHEDULED, {}, 'req-a');

    expect(result).toMatchObject({ outcome: 'duplicate' });
    expect(lambda.invokes).toHaveLength(0);
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
    // Prepare: run 1 (13:00) plans 40 sources hinted at 1 s; all fit one batch.
    const sources = Array.from({ length: 40 }, (_, i) =>
      entry(`s${i}`, { expectedDurationMs: 1_000 }),
    );
    await s3.putJson(MANIFEST_KEY, { sources });
    const env = {
      FANOUT_BATCH_BUDGET_MS: '20000',
      FANOUT_COLLECTOR_CONCURRENCY: '4',
      FANOUT_COLLECTOR_MAX_PARALLEL: '1',
    };
    await run(scheduledAt('2026-11-25T13:00:00Z'), env, 'req-1');
    const first = await s3.getJson<RunManifest>(runManifestKey('20261125T130000Z'));
    expect(first.batches).toHaveLength(1);
    // The collector's pack header reports: every source took 5 s; s0 has an etag.
    const sha256 = 'c'.repeat(64);
    await putPack(s3, {
      runId: first.runId,
      scheduledAt: first.scheduledAt,
      batchId: 'b00000',
      hop: 0,
      outcomes: sources.map((s) =>
        okOutcome(s.id, '2026-11-25T13:00:30.000Z', {
          validators: s.id === 's0' ? { etag: '"e1"', sha256 } : { sha256 },
        }),
      ),
    });
    lambda.invokes.length = 0;

    // Act: run 2 (13:10), the next fire time of rate(10 minutes)
    await run(scheduledAt('2026-11-25T13:10:00Z'), env, 'req-2');

    // Assess: 4 slots x 20 s / 5 s = 16 tasks per batch -> 3 batches
    const second = await s3.getJson<RunManifest>(runManifestKey('20261125T131000Z'));
    expect(second.batches).toHaveLength(3);
    const tasks = collectorPayloads().flatMap((p) => p.tasks);
    expect(tasks.every((t) => t.estimateMs === 5_000)).toBe(true);
    expect(tasks.find((t) => t.source.id === 's0')?.previous).toEqual({ etag: '"e1"', sha256 });
    const state = second.state;
    expect(state?.mergedRuns).toEqual(['20261125T130000Z']);
    expect(state?.pendingRuns).toEqual(['20261125T131000Z']);
    expect(state?.sources.s1).toMatchObject({
      durationsMs: [5_000],
      lastRunId: '20261125T130000Z',
      lastStatus: 'ok',
    });
  });

  it('treats a corrupt legacy state snapshot as empty instead of failing the run', async () => {
    await s3.putJson(MANIFEST_KEY, { sources: [entry('a')] });
    await s3.putText(sourceStateKey(), 'not json');

    const { result, deps } = await run(SCHEDULED);

    expect(result).toMatchObject({ outcome: 'dispatched', dispatched: 1 });
    expect(
      deps.log.entries.some((e) => e.level === 'warn' && e.message.includes('state snapshot')),
    ).toBe(true);
    const manifest = await s3.getJson<RunManifest>(runManifestKey(SCHEDULED_RUN_ID));
    expect(manifest.state?.pendingRuns).toEqual([SCHEDULED_RUN_ID]);
  });
});

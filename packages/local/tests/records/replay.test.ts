import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import {
  type BatchResult,
  type CollectorPayload,
  CollectorPayloadSchema,
  check,
  offScheduleLogKey,
  parseS3Event,
  redispatchKey,
  type TaskOutcome,
  topology,
} from '@fanout/shared';
import { startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../src/lambda/index.js';
import {
  type DeadLetterInbox,
  type ReplayDeps,
  reparseEvent,
  replayRun,
} from '../../src/replay.js';
import { bucketWriter, RunRecordReader } from '../../src/run-records.js';
import {
  aManifest,
  aResult,
  failed,
  ok,
  packKey,
  putFailure,
  putManifest,
  putPack,
  putParsed,
  RUN_ID,
  SCHEDULED_AT,
  singleKey,
} from './fixtures.js';

const FUNCTIONS = { collector: 'fanout-collector', parser: 'fanout-parser' };

let s3: TestS3;

beforeAll(async () => {
  s3 = await startTestS3();
});

afterAll(async () => {
  await s3?.stop();
});

beforeEach(async () => {
  for (const key of await s3.listKeys()) {
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }));
  }
  await s3.putJson(topology.manifestKey, {
    version: 1,
    sources: ['a', 'b', 'c', 'd'].map((id) => ({
      id,
      url: `https://example.test/${id}`,
      format: 'json',
    })),
  });
});

function payload(batchId: string, ids: string[], runId = RUN_ID): CollectorPayload {
  return {
    version: 1,
    runId,
    scheduledAt: SCHEDULED_AT,
    batchId,
    hop: 0,
    tasks: ids.map((id) => ({
      source: { id, url: `https://example.test/${id}`, format: 'json' },
      estimateMs: 0,
    })),
  } as CollectorPayload;
}

/**
 * Stands in for the functions at the edge of replay: a collector that stores one pack per
 * hop (its outcomes in the header: ok, or failed for the sources in `failing`) and a
 * parser that stores each raw object's parsed object. Records every invocation.
 */
function fakeFunctions(failing: ReadonlySet<string> = new Set()) {
  const sent: { functionName: string; payload: unknown }[] = [];
  let clock = Date.parse('2026-11-29T08:20:00Z');
  const invoke: ReplayDeps['invoke'] = async (functionName, event) => {
    sent.push({ functionName, payload: event });
    if (functionName === FUNCTIONS.collector) {
      const p = check(CollectorPayloadSchema, event);
      if (!p.ok) throw new Error(p.issues.join('; '));
      clock += 1_000;
      const at = new Date(clock).toISOString();
      const key = packKey(p.value.batchId, p.value.hop);
      const outcomes: TaskOutcome[] = p.value.tasks.map(({ source }) =>
        failing.has(source.id) ? failed(source.id, 'HTTP 500', at) : ok(source.id, [key], at),
      );
      const result: BatchResult = aResult(p.value.batchId, outcomes, {
        hop: p.value.hop,
        writtenAt: at,
      });
      await putPack(s3, result);
      if (outcomes.some((o) => o.status === 'ok')) await putParsed(s3, key);
    } else {
      for (const object of parseS3Event(event).objects) await putParsed(s3, object.key);
    }
  };
  const collectorPayloads = () =>
    sent
      .filter((call) => call.functionName === FUNCTIONS.collector)
      .map((call) => call.payload as CollectorPayload);
  return { sent, invoke, collectorPayloads };
}

function inbox(letters: DeadLetter[], invoke: ReplayDeps['invoke']): DeadLetterInbox {
  const remove = (letter: DeadLetter) => letters.splice(letters.indexOf(letter), 1);
  return {
    list: async () => [...letters],
    redeliver: async (letter, event) => {
      remove(letter);
      await invoke(letter.functionName, event);
    },
    discard: async (letter) => {
      remove(letter);
    },
  };
}

function letter(functionName: string, event: unknown, id: string): DeadLetter {
  return {
    id,
    functionName,
    requestId: id,
    event,
    error: { type: 'Sandbox.Timedout', message: 'Task timed out after 8.00 seconds' },
    attempts: 3,
    firstReceivedAt: '2026-11-29T08:11:00.000Z',
    lastAttemptAt: '2026-11-29T08:14:00.000Z',
    reason: 'retries-exhausted',
  };
}

function deps(fake: ReturnType<typeof fakeFunctions>, extra: Partial<ReplayDeps> = {}): ReplayDeps {
  return {
    reader: new RunRecordReader(s3.client, s3.bucket),
    writer: bucketWriter(s3.client, s3.bucket),
    bucket: s3.bucket,
    invoke: fake.invoke,
    functions: FUNCTIONS,
    settle: async () => {},
    ...extra,
  };
}

/** A run: a done, b failed (b00000's pack, parsed); b00001 [c] never dispatched. */
async function aRunWithFailures(): Promise<void> {
  await putManifest(s3, aManifest([['a', 'b'], ['c']]));
  const pack = await putPack(s3, aResult('b00000', [ok('a', [packKey('b00000')]), failed('b')]));
  await putParsed(s3, pack);
  await putFailure(s3, {
    kind: 'dispatch-failed',
    runId: RUN_ID,
    batchId: 'b00001',
    hop: 0,
    reason: 'Lambda Invoke: TooManyRequestsException',
    sourceIds: ['c'],
    payload: payload('b00001', ['c']),
    recordedAt: '2026-11-29T08:10:05.000Z',
  });
}

describe('replayRun', () => {
  it('re-sends failed and undispatched work once: a second replay sends nothing', async () => {
    // Prepare
    await aRunWithFailures();
    const fake = fakeFunctions();

    // Act
    const first = await replayRun(RUN_ID, deps(fake));
    const sentByFirst = fake.sent.length;
    const second = await replayRun(RUN_ID, deps(fake));

    // Assess
    expect(first).toMatchObject({ batchesRedelivered: 1, tasksRetried: 1, objectsReparsed: 0 });
    expect(
      fake.collectorPayloads().map((p) => [p.batchId, p.tasks.map((t) => t.source.id)]),
    ).toEqual([
      ['b00001', ['c']],
      [first.replayBatchIds[0], ['b']],
    ]);
    expect(sentByFirst).toBe(2);
    expect(second).toMatchObject({
      deadLettersRedelivered: 0,
      batchesRedelivered: 0,
      tasksRetried: 0,
      objectsReparsed: 0,
    });
    expect(fake.sent).toHaveLength(2);
    const status = await new RunRecordReader(s3.client, s3.bucket).status(RUN_ID);
    expect(status).toMatchObject({ complete: true, collected: 3, failed: 0 });
  });

  it('rebuilds the tasks of a redacted failure record from the manifest, never sending its REDACTED values', async () => {
    // Prepare: the collector stored the continuation's payload redacted.
    await putManifest(s3, aManifest([['a', 'b'], ['c']]));
    const pack = await putPack(
      s3,
      aResult('b00000', [ok('a', [packKey('b00000')]), ok('b', [packKey('b00000')])]),
    );
    await putParsed(s3, pack, { pages: 2, parsed: 2 });
    const redacted = payload('b00001', ['c']);
    await putFailure(s3, {
      kind: 'continuation-failed',
      runId: RUN_ID,
      batchId: 'b00001',
      hop: 1,
      reason: 'Lambda Invoke: TooManyRequestsException',
      sourceIds: ['c'],
      payload: {
        ...redacted,
        tasks: redacted.tasks.map((t) => ({
          ...t,
          source: { ...t.source, url: `${t.source.url}?token=REDACTED` },
        })),
      },
      payloadRedacted: true,
      recordedAt: '2026-11-29T08:10:05.000Z',
    });
    const fake = fakeFunctions();

    // Act
    const result = await replayRun(RUN_ID, deps(fake));

    // Assess
    expect(result).toMatchObject({ batchesRedelivered: 0, tasksRetried: 1 });
    const sent = fake.collectorPayloads();
    expect(sent.map((p) => p.tasks.map((t) => t.source.url))).toEqual([['https://example.test/c']]);
    expect(JSON.stringify(sent)).not.toContain('REDACTED');
  });

  it('gives each replay new batch ids, so no replay overwrites the outcomes of another', async () => {
    // Prepare: b fails every time.
    await aRunWithFailures();
    const fake = fakeFunctions(new Set(['b']));

    // Act
    const first = await replayRun(RUN_ID, deps(fake));
    const firstRecord = await s3.getBytes(packKey(first.replayBatchIds[0] ?? 'none'));
    const second = await replayRun(RUN_ID, deps(fake));

    // Assess
    expect(first.replayBatchIds).toHaveLength(1);
    expect(second.replayBatchIds).toHaveLength(1);
    expect(second.replayBatchIds[0]).not.toBe(first.replayBatchIds[0]);
    expect(await s3.getBytes(packKey(first.replayBatchIds[0] ?? 'none'))).toEqual(firstRecord);
    expect(second).toMatchObject({ batchesRedelivered: 0, tasksRetried: 1 });
  });

  it('re-sends dead letters without their done tasks, drops done ones, leaves other runs alone', async () => {
    // Prepare
    await aRunWithFailures();
    const fake = fakeFunctions();
    const parsedPack = packKey('b00000');
    const unparsed = singleKey('d');
    const letters = [
      letter(FUNCTIONS.collector, payload('b00000', ['a', 'b']), 'l-partly-done'),
      letter(FUNCTIONS.collector, payload('b00000', ['a']), 'l-done'),
      letter(FUNCTIONS.collector, payload('b00000', ['a'], '20261128T081000Z'), 'l-other-run'),
      letter(FUNCTIONS.parser, reparseEvent(s3.bucket, parsedPack), 'l-parsed'),
      letter(FUNCTIONS.parser, reparseEvent(s3.bucket, unparsed), 'l-unparsed'),
    ];

    // Act
    const report = await replayRun(
      RUN_ID,
      deps(fake, { deadLetters: inbox(letters, fake.invoke) }),
    );

    // Assess
    expect(report).toMatchObject({ deadLettersRedelivered: 2, deadLettersDropped: 2 });
    expect(letters.map((l) => l.id)).toEqual(['l-other-run']);
    const [partly, ...rest] = fake.collectorPayloads();
    // Under its own id it would overwrite b00000-h0, the record of a's outcome.
    expect(partly?.tasks.map((t) => t.source.id)).toEqual(['b']);
    expect(Number(partly?.batchId.slice(1))).toBeGreaterThanOrEqual(900_000);
    // b went out with the letter: not again as a failed task; c with its failure record.
    expect(rest.map((p) => [p.batchId, p.tasks.map((t) => t.source.id)])).toEqual([
      ['b00001', ['c']],
    ]);
    const parsed = fake.sent
      .filter((call) => call.functionName === FUNCTIONS.parser)
      .flatMap((call) => parseS3Event(call.payload).objects.map((o) => o.key));
    expect(parsed).toEqual([unparsed]);
  });

  it('sends raw objects without an outcome to the parser, and only those', async () => {
    // Prepare
    await putManifest(s3, aManifest([['a', 'b']]));
    const parsedKey = singleKey('a');
    const waiting = singleKey('b');
    await putPack(s3, aResult('b00000', [ok('a', [parsedKey]), ok('b', [waiting])]));
    await putParsed(s3, parsedKey);
    const fake = fakeFunctions();

    // Act
    const report = await replayRun(RUN_ID, deps(fake));

    // Assess
    expect(report.objectsReparsed).toBe(1);
    expect(
      fake.sent.flatMap((call) => parseS3Event(call.payload).objects.map((o) => o.key)),
    ).toEqual([waiting]);
  });

  it('leaves permanent failures out unless asked, and says so', async () => {
    // Prepare: b answered 404 (permanent), c 503 (worth another try).
    await putManifest(s3, aManifest([['a', 'b', 'c']]));
    await putPack(
      s3,
      aResult('b00000', [
        ok('a', [packKey('b00000')]),
        { ...failed('b', 'HTTP 404 from https://example.test/b'), httpStatus: 404 },
        { ...failed('c', 'HTTP 503 from https://example.test/c'), httpStatus: 503 },
      ]),
    );
    await putParsed(s3, packKey('b00000'));
    const fake = fakeFunctions();

    // Act
    const plain = await replayRun(RUN_ID, deps(fake));
    const asked = await replayRun(RUN_ID, deps(fake, { includeFailed: true }));

    // Assess
    expect(plain.permanentFailures).toEqual([
      'b: HTTP 404 from https://example.test/b (permanent; --include-failed sends it again)',
    ]);
    expect(fake.collectorPayloads().map((p) => p.tasks.map((t) => t.source.id))).toEqual([
      ['c'],
      ['b'],
    ]);
    expect(asked.permanentFailures).toEqual([]);
  });

  it('sends a task with the validators the run was planned with', async () => {
    // Prepare: the run's state knew a's validators; a failed in the run.
    await putManifest(
      s3,
      aManifest([['a']], {
        state: {
          version: 1,
          mergedRuns: [],
          sources: { a: { validators: { etag: '"known"' }, durationsMs: [], bytes: 12 } },
        },
      }),
    );
    await putPack(s3, aResult('b00000', [failed('a')]));
    const fake = fakeFunctions();

    // Act
    await replayRun(RUN_ID, deps(fake));

    // Assess: a 304 to this request stores nothing twice.
    expect(fake.collectorPayloads()[0]?.tasks[0]).toMatchObject({
      source: { id: 'a' },
      previous: { etag: '"known"' },
      expectedBytes: 12,
    });
  });

  it('claims each silent hop before sending it, and logs its batches for the next run', async () => {
    // Prepare: b00000 reported a and continued b to hop 1, which never reported; b00001 never did.
    await putManifest(s3, aManifest([['a', 'b'], ['c']]));
    await putPack(s3, aResult('b00000', [ok('a', [packKey('b00000')])], { continued: ['b'] }));
    await putParsed(s3, packKey('b00000'));
    const fake = fakeFunctions();

    // Act
    const report = await replayRun(RUN_ID, deps(fake, { includePending: true }));

    // Assess: one batch per silent hop, each hop's record names it, the log lists both.
    expect(report.replayBatchIds).toEqual(['b900000', 'b900001']);
    expect(await s3.getJson(redispatchKey(RUN_ID, 'b00000', 1))).toMatchObject({
      fromBatchId: 'b00000',
      fromHop: 1,
      batchId: 'b900000',
      sourceIds: ['b'],
    });
    expect(await s3.getJson(redispatchKey(RUN_ID, 'b00001', 0))).toMatchObject({
      batchId: 'b900001',
      sourceIds: ['c'],
    });
    expect(await s3.getJson(offScheduleLogKey())).toMatchObject({
      entries: [{ kind: 'replay', runId: RUN_ID, batchIds: ['b900000', 'b900001'] }],
    });
    const status = await new RunRecordReader(s3.client, s3.bucket).status(RUN_ID);
    expect(status).toMatchObject({ complete: true, collected: 3, pending: 0 });
  });

  it('leaves a silent hop to whoever claimed it first, and follows it to that batch', async () => {
    // Prepare: the manager already sent b00001's hop 0 again as b00002, which has not reported.
    await putManifest(s3, aManifest([['a'], ['c']]));
    await putPack(s3, aResult('b00000', [ok('a', [packKey('b00000')])]));
    await putParsed(s3, packKey('b00000'));
    await s3.putJson(redispatchKey(RUN_ID, 'b00001', 0), {
      runId: RUN_ID,
      fromBatchId: 'b00001',
      fromHop: 0,
      batchId: 'b00002',
      sourceIds: ['c'],
      dispatchedAt: '2026-11-29T09:20:00.000Z',
    });
    const fake = fakeFunctions();

    // Act: the replay finds b00002 silent too, and claims that hop instead.
    const report = await replayRun(RUN_ID, deps(fake, { includePending: true }));

    // Assess
    expect(report.tasksRetried).toBe(1);
    expect(await s3.getJson(redispatchKey(RUN_ID, 'b00001', 0))).toMatchObject({
      batchId: 'b00002',
    });
    expect(await s3.getJson(redispatchKey(RUN_ID, 'b00002', 0))).toMatchObject({
      batchId: report.replayBatchIds[0],
      sourceIds: ['c'],
    });
  });
});

import type { S3Client } from '@aws-sdk/client-s3';
import { type CollectorPayload, rawPackKey } from '@fanout/shared';
import { fakeContext, ManualClock } from '@fanout/testkit';
import { describe, expect, it } from 'vitest';
import { collectBatch, type HttpTransport, type PartialStore } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { payload, RUN_ID, SCHEDULED_AT } from '../helpers/payloads.js';
import { fakeS3, putPackHeader, scriptedTransport } from '../helpers/transport.js';

const packKey = (hop: number) =>
  rawPackKey({ runId: RUN_ID, scheduledAt: SCHEDULED_AT, batchId: 'b00001', hop });

const tasks = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    source: { id: `s${i + 1}`, url: `http://upstream.test/${i + 1}` },
    estimateMs: 10_000,
  }));

/**
 * One delivery of hop 0 of a four-task batch: each fetch takes 20 s of a 60 s budget, so
 * s1 and s2 are collected and s3 and s4 handed on; `requestId` names the delivery.
 */
async function delivery(
  s3: ReturnType<typeof fakeS3>,
  requestId: string,
  input: CollectorPayload = payload(tasks(4)),
  partials?: PartialStore,
) {
  const clock = new ManualClock();
  const transport = scriptedTransport((req) => {
    clock.advance(20_000);
    return { status: 200, body: JSON.stringify({ path: req.url.pathname, requestId }) };
  });
  const deps = await testDeps({
    s3,
    clock,
    context: { ...fakeContext({ clock, timeoutMs: 60_000 }), awsRequestId: requestId },
    transport,
    settings: { concurrency: 1, safetyMarginMs: 15_000, hardDeadlineMs: 5_000 },
  });
  const summary = await collectBatch(input, partials ? { ...deps, partials } : deps);
  return { summary, deps, transport };
}

/** A partial store that remembers what was saved and removed. */
function recordingPartials(): PartialStore & { saved: string[]; removed: string[] } {
  const saved: string[] = [];
  const removed: string[] = [];
  return {
    saved,
    removed,
    save: async (key) => {
      saved.push(key);
    },
    load: () => (async function* () {})(),
    remove: async (key) => {
      removed.push(key);
    },
    keys: async (prefix) => saved.filter((key) => key.startsWith(prefix) && !removed.includes(key)),
  };
}

/**
 * One delivery of hop 0 of a one-task batch whose download is cut by the hard deadline
 * after 256 KiB (spooled, a strong ETag: resumable), on `s3`.
 */
async function cutDelivery(s3: S3Client, requestId: string, partials: PartialStore) {
  const clock = new ManualClock();
  const transport: HttpTransport = async (request) => ({
    status: 200,
    headers: { etag: '"v1"', 'content-length': String(1024 * 1024) },
    body: (async function* () {
      yield Buffer.alloc(256 * 1024, 1);
      clock.advance(10_000);
      await new Promise((_, reject) => {
        request.signal.addEventListener('abort', () => reject(request.signal.reason), {
          once: true,
        });
      });
    })(),
    discard: () => undefined,
  });
  const deps = await testDeps({
    s3,
    clock,
    context: { ...fakeContext({ clock, timeoutMs: 12_000 }), awsRequestId: requestId },
    transport,
    settings: { memoryBufferBytes: 64 * 1024, safetyMarginMs: 5_000, hardDeadlineMs: 5_000 },
  });
  return collectBatch(payload(tasks(1)), { ...deps, partials });
}

describe("a hop's record is written once (first writer wins)", () => {
  it('stores the pack with If-None-Match and the writing request id in its header', async () => {
    const s3 = fakeS3();

    const { summary } = await delivery(s3, 'request-a');

    expect(summary.recordedBy).toBe('this-invocation');
    expect(s3.puts).toHaveLength(1);
    expect(s3.puts[0]).toMatchObject({ Key: packKey(0), IfNoneMatch: '*' });
    expect(await putPackHeader(s3, packKey(0))).toMatchObject({
      requestId: 'request-a',
      entries: 2,
      result: { continued: ['s3', 's4'] },
    });
  });

  it('a duplicate delivery (another request id) leaves the stored record and its chain alone', async () => {
    const s3 = fakeS3();
    await delivery(s3, 'request-a');

    const duplicate = await delivery(s3, 'request-b');

    // It did the work, then found the hop recorded: it stores nothing and hands nothing on.
    expect(duplicate.summary).toMatchObject({
      recordedBy: 'other-delivery',
      recordKey: packKey(0),
      packEntries: 0,
      continued: 0,
    });
    expect(duplicate.deps.invoked).toEqual([]);
    expect(s3.puts).toHaveLength(1);
    expect((await putPackHeader(s3, packKey(0))).requestId).toBe('request-a');
    expect(duplicate.summary.result.continued).toEqual(['s3', 's4']);
  });

  it('a duplicate delivery that lost the record removes the bytes it stored for a cut download', async () => {
    // Prepare: delivery a is cut, stores its bytes and the record. Delivery b ran at the
    // same time: when it checked, there was no record yet (its HEADs are answered 404).
    const s3 = fakeS3();
    const partials = recordingPartials();
    const first = await cutDelivery(s3, 'request-a', partials);
    const racing = {
      ...s3,
      send: (command: { constructor: { name: string } }) =>
        command.constructor.name === 'HeadObjectCommand'
          ? Promise.reject(
              Object.assign(new Error('Not Found'), {
                name: 'NotFound',
                $metadata: { httpStatusCode: 404 },
              }),
            )
          : s3.send(command as never),
    } as unknown as S3Client;

    // Act
    const duplicate = await cutDelivery(racing, 'request-b', partials);

    // Assess: a's bytes wait for a's continuation; b's own are removed at once.
    const ownKey = (request: string) => `runs/${RUN_ID}/partial/b00001-h0-s1-${request}.part`;
    expect(first.continuation?.tasks[0]?.resume?.key).toBe(ownKey('request-a'));
    expect(duplicate.recordedBy).toBe('other-delivery');
    expect(partials.saved).toEqual([ownKey('request-a'), ownKey('request-b')]);
    expect(partials.removed).toEqual([ownKey('request-b')]);
  });

  it("a retry of the same request hands on what the earlier attempt's record left", async () => {
    // The first attempt stored its pack and was killed before it invoked hop 1.
    const s3 = fakeS3();
    await delivery(s3, 'request-a');

    const retry = await delivery(s3, 'request-a');

    expect(retry.summary.recordedBy).toBe('earlier-attempt');
    expect(retry.deps.invoked).toHaveLength(1);
    const next = retry.deps.invoked[0] as CollectorPayload;
    expect(next.hop).toBe(1);
    expect(next.tasks.map((t) => t.source.id)).toEqual(['s3', 's4']);
    expect(s3.puts).toHaveLength(1);
    // The resume points of the recorded attempt were in its memory: bytes it may have
    // stored for them (its request id is in the key) will not be resumed, so they go.
    expect(s3.deletes).toEqual([
      `runs/${RUN_ID}/partial/b00001-h0-s3-request-a.part`,
      `runs/${RUN_ID}/partial/b00001-h0-s4-request-a.part`,
    ]);
  });

  it('a redriven hop that was already recorded is not fetched again, only handed on', async () => {
    const s3 = fakeS3();
    await delivery(s3, 'request-a');

    const redriven = await delivery(s3, 'request-c', payload(tasks(4), { redrive: 1 }));

    expect(redriven.transport.requests).toEqual([]);
    expect(redriven.summary.recordedBy).toBe('earlier-attempt');
    const next = redriven.deps.invoked[0] as CollectorPayload;
    expect(next.tasks.map((t) => t.source.id)).toEqual(['s3', 's4']);
    // The redrive count belongs to the redriven hop, not to the hops after it.
    expect(next.redrive).toBeUndefined();
  });

  it('a redriven hop without a record removes the bytes its given-up attempts stored', async () => {
    // Prepare: an attempt Lambda gave up on stored the bytes of a cut download before it
    // was killed; the next hop's bytes (another prefix) belong to a chain that goes on.
    const s3 = fakeS3();
    const partials = recordingPartials();
    const given = `runs/${RUN_ID}/partial/b00001-h0-s3-request-dead.part`;
    const nextHops = `runs/${RUN_ID}/partial/b00001-h1-s3-request-live.part`;
    partials.saved.push(given, nextHops);

    // Act
    const redriven = await delivery(s3, 'request-c', payload(tasks(4), { redrive: 1 }), partials);

    // Assess
    expect(redriven.summary.recordedBy).toBe('this-invocation');
    expect(partials.removed).toEqual([given]);
  });

  it('a redriven hop without a record does the work, and its continuation carries no redrive', async () => {
    const s3 = fakeS3();

    const redriven = await delivery(s3, 'request-c', payload(tasks(4), { redrive: 2 }));

    expect(redriven.transport.requests).toHaveLength(2);
    expect(redriven.summary.recordedBy).toBe('this-invocation');
    expect((redriven.deps.invoked[0] as CollectorPayload).redrive).toBeUndefined();
  });
});

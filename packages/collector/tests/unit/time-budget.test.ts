import { batchFailureKey, type CollectorPayload, rawPackKey } from '@fanout/shared';
import { fakeContext, ManualClock } from '@fanout/testkit';
import { describe, expect, it } from 'vitest';
import { ContinuationInvokeError, collectBatch, StoreError } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { readBackPack } from '../helpers/packs.js';
import { payload, RUN_ID, SCHEDULED_AT } from '../helpers/payloads.js';
import { fakeS3, putJson, putPackHeader, scriptedTransport } from '../helpers/transport.js';

const packKey = (hop: number) =>
  rawPackKey({ runId: RUN_ID, scheduledAt: SCHEDULED_AT, batchId: 'b00001', hop });

/** Each fetch takes `ms` of the manual clock and answers 200 with a body naming the path. */
function slowChanged(clock: ManualClock, ms: number) {
  return scriptedTransport((req) => {
    clock.advance(ms);
    return { status: 200, body: JSON.stringify({ path: req.url.pathname }) };
  });
}

const tasks = (n: number, estimateMs = 10_000) =>
  Array.from({ length: n }, (_, i) => ({
    source: { id: `s${i + 1}`, url: `http://upstream.test/${i + 1}` },
    previous: { etag: `"e${i + 1}"` },
    estimateMs,
  }));

/** Each fetch takes `ms` of the manual clock and answers 304. */
function slowNotModified(clock: ManualClock, ms: number) {
  return scriptedTransport(() => {
    clock.advance(ms);
    return { status: 304 };
  });
}

describe('time budget and continuation', () => {
  it('stops starting tasks when the remaining time is below estimate plus margin', async () => {
    // Prepare: 60 s left, margin 15 s, estimates 10 s, each fetch takes 20 s.
    const clock = new ManualClock();
    const s3 = fakeS3();
    const deps = await testDeps({
      s3,
      clock,
      context: fakeContext({ clock, timeoutMs: 60_000 }),
      transport: slowNotModified(clock, 20_000),
      settings: { concurrency: 1, safetyMarginMs: 15_000, hardDeadlineMs: 5_000 },
    });
    const input = payload(tasks(4));

    // Act
    const summary = await collectBatch(input, deps);

    // Assess: s1 at 60 s left, s2 at 40 s left; at 20 s left 20 < 10 + 15.
    expect(summary.result.outcomes.map((o) => o.sourceId)).toEqual(['s1', 's2']);
    expect(summary.result.continued).toEqual(['s3', 's4']);
    expect(deps.invoked).toHaveLength(1);
    const next = deps.invoked[0] as CollectorPayload;
    expect(next).toEqual({ ...input, hop: 1, tasks: input.tasks.slice(2) });
    expect((await putPackHeader(s3, packKey(0))).result).toMatchObject({
      hop: 0,
      continued: ['s3', 's4'],
    });
  });

  it("writes the hop's pack before it invokes the continuation, and nothing else", async () => {
    // Prepare: 60 s left, each fetch takes 20 s: s1 and s2 are collected, s3 and s4 continued.
    const clock = new ManualClock();
    const s3 = fakeS3();
    const writtenAtInvoke: string[][] = [];
    const deps = await testDeps({
      s3,
      clock,
      context: fakeContext({ clock, timeoutMs: 60_000 }),
      transport: slowChanged(clock, 20_000),
      settings: { concurrency: 1, safetyMarginMs: 15_000, hardDeadlineMs: 5_000 },
      invokeContinuation: async () => {
        writtenAtInvoke.push(s3.puts.map((p) => p.Key));
      },
    });

    // Act
    const summary = await collectBatch(payload(tasks(4)), deps);

    // Assess: when the next hop was invoked, this hop's one record was already stored.
    expect(writtenAtInvoke).toEqual([[packKey(0)]]);
    expect(s3.puts.map((p) => p.Key)).toEqual([packKey(0)]);
    expect(summary).toMatchObject({ recordKey: packKey(0), packEntries: 2, continued: 2 });
    const stored = await readBackPack(s3.puts[0]?.Body as Buffer);
    expect(stored.header.result.continued).toEqual(['s3', 's4']);
    expect(stored.header.result.outcomes).toEqual([
      expect.objectContaining({ sourceId: 's1', status: 'ok', rawKeys: [packKey(0)] }),
      expect.objectContaining({ sourceId: 's2', status: 'ok', rawKeys: [packKey(0)] }),
    ]);
    expect(stored.bodies.map(String)).toEqual(['{"path":"/1"}', '{"path":"/2"}']);
  });

  it('invokes no continuation when its record cannot be stored, so the retry hands the work on', async () => {
    const clock = new ManualClock();
    const deps = await testDeps({
      s3: fakeS3({ fail: (key) => key === packKey(0) }),
      clock,
      context: fakeContext({ clock, timeoutMs: 60_000 }),
      transport: slowChanged(clock, 20_000),
      settings: { concurrency: 1, safetyMarginMs: 15_000, hardDeadlineMs: 5_000 },
    });

    const outcome = collectBatch(payload(tasks(4)), deps);

    await expect(outcome).rejects.toBeInstanceOf(StoreError);
    expect(deps.invoked).toEqual([]);
  });

  it('completes the rest when the continuation payload is run', async () => {
    const clock = new ManualClock();
    const first = await testDeps({
      clock,
      s3: fakeS3(),
      context: fakeContext({ clock, timeoutMs: 40_000 }),
      transport: slowNotModified(clock, 20_000),
      settings: { concurrency: 1, safetyMarginMs: 15_000, hardDeadlineMs: 5_000 },
    });
    await collectBatch(payload(tasks(3)), first);
    const continuation = first.invoked[0] as CollectorPayload;

    const second = await testDeps({
      clock,
      s3: fakeS3(),
      context: fakeContext({ clock, timeoutMs: 300_000 }),
      transport: slowNotModified(clock, 1_000),
      settings: { concurrency: 1 },
    });
    const summary = await collectBatch(continuation, second);

    expect(continuation.hop).toBe(1);
    expect(summary.result.hop).toBe(1);
    expect(summary.result.outcomes.map((o) => [o.sourceId, o.status])).toEqual([
      ['s2', 'unchanged'],
      ['s3', 'unchanged'],
    ]);
    expect(summary.result.continued).toEqual([]);
    expect(second.invoked).toEqual([]);
  });

  it('aborts in-flight fetches at the hard deadline and continues them', async () => {
    // Prepare: s1 hangs; the clock moves past the hard deadline while it does.
    const clock = new ManualClock();
    let hanging: () => void = () => undefined;
    const started = new Promise<void>((resolve) => {
      hanging = resolve;
    });
    const transport = scriptedTransport((req) => {
      if (req.url.pathname === '/1') {
        hanging();
        return { hang: true };
      }
      return { status: 304 };
    });
    const deps = await testDeps({
      clock,
      s3: fakeS3(),
      context: fakeContext({ clock, timeoutMs: 60_000 }),
      transport,
      settings: { concurrency: 2, safetyMarginMs: 15_000, hardDeadlineMs: 5_000 },
    });
    const input = payload(
      tasks(2).map((t) => ({ ...t, source: { ...t.source, timeoutMs: 600_000 } })),
    );

    // Act
    const running = collectBatch(input, deps);
    await started;
    clock.advance(56_000);
    const summary = await running;

    // Assess
    expect(summary.result.outcomes.map((o) => o.sourceId)).toEqual(['s2']);
    expect(summary.result.continued).toEqual(['s1']);
    expect(deps.invoked[0]?.tasks.map((t) => t.source.id)).toEqual(['s1']);
    expect(deps.invoked[0]?.hop).toBe(1);
  });

  it('records unfinished tasks as failed once the hop limit is reached', async () => {
    const clock = new ManualClock();
    const deps = await testDeps({
      clock,
      s3: fakeS3(),
      context: fakeContext({ clock, timeoutMs: 10_000 }),
      transport: slowNotModified(clock, 1),
      settings: { maxHops: 5, safetyMarginMs: 15_000, hardDeadlineMs: 5_000 },
    });

    const summary = await collectBatch(payload(tasks(2), { hop: 5 }), deps);

    expect(deps.invoked).toEqual([]);
    expect(summary.result.continued).toEqual([]);
    expect(summary.result.outcomes).toEqual([
      expect.objectContaining({
        sourceId: 's1',
        status: 'failed',
        attempts: 0,
        reason:
          'continuation hop limit reached after 5 hops: never started (no hop had time left for its estimate)',
      }),
      expect.objectContaining({
        sourceId: 's2',
        status: 'failed',
        reason:
          'continuation hop limit reached after 5 hops: never started (no hop had time left for its estimate)',
      }),
    ]);
  });

  it('records a continuation that cannot be invoked, and throws only when a retry may help', async () => {
    const clock = new ManualClock();
    const notFound = Object.assign(new Error('Function not found: fanout-collector'), {
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 404 },
    });
    const throttled = Object.assign(new Error('Rate exceeded'), {
      name: 'TooManyRequestsException',
      $metadata: { httpStatusCode: 429 },
    });
    const run = async (error: Error) => {
      const s3 = fakeS3();
      const deps = await testDeps({
        clock,
        s3,
        context: fakeContext({ clock, timeoutMs: 10_000 }),
        transport: slowNotModified(clock, 1),
        invokeContinuation: async () => {
          throw error;
        },
      });
      const outcome = await collectBatch(payload(tasks(1), { hop: 2 }), deps).catch(
        (e: unknown) => e,
      );
      return { s3, outcome };
    };

    const permanent = await run(notFound);
    // The hop's record first, then the record of the continuation that failed.
    expect(permanent.s3.puts.map((p) => p.Key)).toEqual([
      packKey(2),
      batchFailureKey(RUN_ID, 'b00001', 3),
    ]);
    expect(permanent.outcome).toMatchObject({
      continuationFailureKey: batchFailureKey(RUN_ID, 'b00001', 3),
    });
    expect(putJson(permanent.s3, batchFailureKey(RUN_ID, 'b00001', 3))).toMatchObject({
      kind: 'continuation-failed',
      hop: 3,
      sourceIds: ['s1'],
      reason: 'ResourceNotFoundException: Function not found: fanout-collector',
      payload: { hop: 3, tasks: [{ source: { id: 's1' } }] },
    });
    expect((await putPackHeader(permanent.s3, packKey(2))).result).toMatchObject({
      continued: ['s1'],
    });

    const transient = await run(throttled);
    expect(transient.outcome).toBeInstanceOf(ContinuationInvokeError);
    expect(putJson(transient.s3, batchFailureKey(RUN_ID, 'b00001', 3))).toMatchObject({
      kind: 'continuation-failed',
    });
    expect((await putPackHeader(transient.s3, packKey(2))).result).toMatchObject({
      continued: ['s1'],
    });
  });

  it("throws when S3 cannot store the hop's record, so Lambda retries the batch", async () => {
    const deps = await testDeps({
      s3: fakeS3({ fail: (key) => key.startsWith('raw/packs/') }),
      transport: scriptedTransport(() => ({ status: 304 })),
    });

    await expect(collectBatch(payload(tasks(1)), deps)).rejects.toThrow(
      `could not write s3 object ${packKey(0)}: We encountered an internal error`,
    );
  });
});

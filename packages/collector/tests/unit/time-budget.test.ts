import { batchFailureKey, batchResultKey, type CollectorPayload } from '@fanout/shared';
import { fakeContext, ManualClock } from '@fanout/testkit';
import { describe, expect, it } from 'vitest';
import { ContinuationInvokeError, collectBatch } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { payload, RUN_ID } from '../helpers/payloads.js';
import { fakeS3, putJson, scriptedTransport } from '../helpers/transport.js';

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
    expect(putJson(s3, batchResultKey(RUN_ID, 'b00001', 0))).toMatchObject({
      hop: 0,
      continued: ['s3', 's4'],
    });
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
        reason: 'continuation hop limit reached after 5 hops',
      }),
      expect.objectContaining({
        sourceId: 's2',
        status: 'failed',
        reason: 'continuation hop limit reached after 5 hops',
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
    expect(putJson(permanent.s3, batchResultKey(RUN_ID, 'b00001', 2))).toMatchObject({
      continued: ['s1'],
    });

    const transient = await run(throttled);
    expect(transient.outcome).toBeInstanceOf(ContinuationInvokeError);
    expect(putJson(transient.s3, batchFailureKey(RUN_ID, 'b00001', 3))).toMatchObject({
      kind: 'continuation-failed',
    });
    expect(putJson(transient.s3, batchResultKey(RUN_ID, 'b00001', 2))).toMatchObject({
      continued: ['s1'],
    });
  });

  it('throws when S3 cannot store the batch result, so Lambda retries the batch', async () => {
    const deps = await testDeps({
      s3: fakeS3({ fail: (key) => key.includes('/results/') }),
      transport: scriptedTransport(() => ({ status: 304 })),
    });

    await expect(collectBatch(payload(tasks(1)), deps)).rejects.toThrow(
      'could not write s3 object runs/20261125T131000Z/results/b00001-h0.json: We encountered an internal error',
    );
  });
});

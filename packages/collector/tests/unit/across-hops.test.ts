import { fakeContext, ManualClock } from '@fanout/testkit';
import { describe, expect, it } from 'vitest';
import { collectBatch } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { payload } from '../helpers/payloads.js';
import { fakeS3, scriptedTransport } from '../helpers/transport.js';

/**
 * What a task carries from one hop to the next: its retries (so a source that fails in
 * every hop fails once its attempts are spent, naming why) and a duration estimate that
 * never keeps it from starting.
 */

const SOURCE = { id: 'busy', url: 'http://upstream.test/busy' };

describe('retries counted across hops', () => {
  it('counts on from the failures earlier hops made, and fails naming the last cause', async () => {
    const transport = scriptedTransport(() => ({ status: 503 }));
    const deps = await testDeps({ s3: fakeS3(), transport, settings: { fetchMaxAttempts: 3 } });
    const tried = {
      attempts: 3,
      failures: 2,
      lastError: 'HTTP 503 from http://upstream.test/busy',
    };

    const summary = await collectBatch(payload([{ source: SOURCE, tried }], { hop: 2 }), deps);

    // One request in this hop: the third failure of three allowed.
    expect(transport.requests).toHaveLength(1);
    expect(summary.result.outcomes).toEqual([
      expect.objectContaining({
        status: 'failed',
        attempts: 4,
        httpStatus: 503,
        reason: 'HTTP 503 from http://upstream.test/busy',
      }),
    ]);
  });

  it('starts a task that has tried nothing yet with all its attempts', async () => {
    const transport = scriptedTransport(() => ({ status: 503 }));
    const deps = await testDeps({ s3: fakeS3(), transport, settings: { fetchMaxAttempts: 3 } });

    await collectBatch(payload([{ source: SOURCE }]), deps);

    expect(transport.requests).toHaveLength(3);
  });

  it('names the last real cause when the hop limit ends a task', async () => {
    // Prepare: the last hop, with no time for any task (the whole hop is inside the margin).
    const clock = new ManualClock();
    const deps = await testDeps({
      s3: fakeS3(),
      clock,
      context: fakeContext({ clock, timeoutMs: 10_000 }),
      settings: { maxHops: 5, safetyMarginMs: 15_000, hardDeadlineMs: 5_000 },
    });
    const tried = {
      attempts: 4,
      failures: 1,
      lastError: "no complete response 5400 ms into a request when the hop's deadline came",
    };

    const summary = await collectBatch(payload([{ source: SOURCE, tried }], { hop: 5 }), deps);

    expect(summary.result.outcomes).toEqual([
      expect.objectContaining({
        status: 'failed',
        attempts: 4,
        reason:
          "continuation hop limit reached after 5 hops: too slow for a collector invocation; last: no complete response 5400 ms into a request when the hop's deadline came (4 requests, 1 failed)",
      }),
    ]);
  });
});

describe('duration estimates', () => {
  it('never keep a task from starting: one above half a hop starts in the first half', async () => {
    // Prepare: 60 s left, margin 15 s: half of the 45 s a task could use is 22.5 s. Each
    // estimate says 100 s (a measure from a slow day); each fetch takes 20 s.
    const clock = new ManualClock();
    const transport = scriptedTransport(() => {
      clock.advance(20_000);
      return { status: 304 };
    });
    const deps = await testDeps({
      s3: fakeS3(),
      clock,
      context: fakeContext({ clock, timeoutMs: 60_000 }),
      transport,
      settings: { concurrency: 1, safetyMarginMs: 15_000, hardDeadlineMs: 5_000 },
    });
    const tasks = ['s1', 's2', 's3'].map((id) => ({
      source: { id, url: `http://upstream.test/${id}` },
      previous: { etag: '"e"' },
      estimateMs: 100_000,
    }));

    const summary = await collectBatch(payload(tasks), deps);

    // s1 at 60 s left and s2 at 40 s left (>= 22.5 + 15); at 20 s left s3 waits for a hop.
    expect(summary.result.outcomes.map((o) => [o.sourceId, o.status])).toEqual([
      ['s1', 'unchanged'],
      ['s2', 'unchanged'],
    ]);
    expect(summary.result.continued).toEqual(['s3']);
  });
});

describe('permanent failures', () => {
  it.each([
    [404, true],
    [410, true],
    [429, undefined],
    [503, undefined],
  ])('a final HTTP %i is permanent: %s', async (status, permanent) => {
    const transport = scriptedTransport(() => ({ status }));
    const deps = await testDeps({ s3: fakeS3(), transport, settings: { fetchMaxAttempts: 1 } });

    const summary = await collectBatch(payload([{ source: SOURCE }]), deps);

    expect(summary.result.outcomes[0]).toMatchObject({ status: 'failed', httpStatus: status });
    expect((summary.result.outcomes[0] as { permanent?: boolean }).permanent).toBe(permanent);
  });
});

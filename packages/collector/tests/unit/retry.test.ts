import { describe, expect, it } from 'vitest';
import { collectBatch, isRetryableStatus, parseRetryAfter, retryDelayMs } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { payload } from '../helpers/payloads.js';
import { fakeS3, scriptedTransport } from '../helpers/transport.js';

const NOW = Date.parse('2026-11-25T13:10:00Z');

describe('parseRetryAfter', () => {
  it.each([
    ['120', 120_000],
    ['0', 0],
    [' 7 ', 7_000],
    ['Wed, 25 Nov 2026 13:10:30 GMT', 30_000],
    ['Wed, 25 Nov 2026 13:09:00 GMT', 0],
  ])('reads %j as %d ms', (header, expected) => {
    expect(parseRetryAfter(header, NOW)).toBe(expected);
  });

  it.each([[undefined], [''], ['soon'], ['-5'], ['1.5'], ['Mon, 99 Foo 2026 25:00:00 GMT']])(
    'ignores %j',
    (header) => {
      expect(parseRetryAfter(header, NOW)).toBeUndefined();
    },
  );
});

describe('retryDelayMs', () => {
  const policy = { baseMs: 100, maxDelayMs: 1_000 };

  it('doubles the jitter ceiling per attempt and caps it', () => {
    const max = () => 0.999_999;
    expect(retryDelayMs(1, policy, undefined, max)).toBe(99);
    expect(retryDelayMs(2, policy, undefined, max)).toBe(199);
    expect(retryDelayMs(3, policy, undefined, max)).toBe(399);
    expect(retryDelayMs(10, policy, undefined, max)).toBe(999);
    expect(retryDelayMs(3, policy, undefined, () => 0)).toBe(0);
  });

  it('prefers Retry-After but bounds it', () => {
    expect(retryDelayMs(1, policy, 300, () => 0.5)).toBe(300);
    expect(retryDelayMs(1, policy, 3_600_000, () => 0.5)).toBe(1_000);
  });
});

describe('isRetryableStatus', () => {
  it.each([
    [429, true],
    [500, true],
    [503, true],
    [599, true],
    [400, false],
    [404, false],
    [304, false],
  ])('%d -> %s', (status, expected) => {
    expect(isRetryableStatus(status)).toBe(expected);
  });
});

describe('fetch retries', () => {
  const source = { id: 'flaky', url: 'http://upstream.test/data' };

  it('retries 5xx and 429 and counts attempts, honouring a bounded Retry-After', async () => {
    // Prepare
    const transport = scriptedTransport((_, n) =>
      n === 0
        ? { status: 503 }
        : n === 1
          ? { status: 429, headers: { 'retry-after': '3600' } }
          : { status: 304 },
    );
    const s3 = fakeS3();
    // A clock that stands still: the wait asked for is the whole Retry-After, not what is
    // left of it once a busy machine has moved on a millisecond.
    const clock = { now: () => Date.parse('2026-11-25T13:10:00Z') };
    const deps = await testDeps({
      s3,
      transport,
      clock,
      settings: { maxRetryAfterMs: 2_000, retryBaseMs: 100 },
    });

    // Act
    const summary = await collectBatch(payload([{ source, previous: { etag: '"e"' } }]), deps);

    // Assess
    expect(transport.requests).toHaveLength(3);
    expect(deps.sleep.delays).toEqual([50, 2_000]);
    expect(summary.result.outcomes[0]).toMatchObject({ status: 'unchanged', attempts: 3 });
  });

  it('gives up after the attempt limit with the last status as reason', async () => {
    const transport = scriptedTransport(() => ({ status: 502 }));
    const deps = await testDeps({ s3: fakeS3(), transport, settings: { fetchMaxAttempts: 3 } });

    const summary = await collectBatch(payload([{ source }]), deps);

    expect(transport.requests).toHaveLength(3);
    expect(summary.result.outcomes[0]).toMatchObject({
      status: 'failed',
      attempts: 3,
      httpStatus: 502,
      reason: 'HTTP 502 from http://upstream.test/data',
    });
  });

  it('retries network errors and reports the last one', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {
      code: 'ECONNREFUSED',
    });
    const transport = scriptedTransport(() => ({ error: refused }));
    const deps = await testDeps({ s3: fakeS3(), transport, settings: { fetchMaxAttempts: 2 } });

    const summary = await collectBatch(payload([{ source }]), deps);

    expect(transport.requests).toHaveLength(2);
    expect(summary.result.outcomes[0]).toMatchObject({
      status: 'failed',
      attempts: 2,
      reason: 'network error: connect ECONNREFUSED 127.0.0.1:9',
    });
  });

  it('does not retry a 404', async () => {
    const transport = scriptedTransport(() => ({ status: 404 }));
    const deps = await testDeps({ s3: fakeS3(), transport });

    const summary = await collectBatch(payload([{ source }]), deps);

    expect(transport.requests).toHaveLength(1);
    expect(summary.result.outcomes[0]).toMatchObject({
      status: 'failed',
      attempts: 1,
      httpStatus: 404,
    });
  });

  it('times out a request that does not answer and retries it', async () => {
    const transport = scriptedTransport(() => ({ hang: true }));
    const deps = await testDeps({ s3: fakeS3(), transport, settings: { fetchMaxAttempts: 2 } });

    const summary = await collectBatch(payload([{ source: { ...source, timeoutMs: 100 } }]), deps);

    expect(transport.requests).toHaveLength(2);
    expect(summary.result.outcomes[0]).toMatchObject({
      status: 'failed',
      attempts: 2,
      reason: 'no complete response within 100 ms',
    });
  });
});

import { BatchFailureSchema, batchFailureKey, type CollectorPayload } from '@fanout/shared';
import { captureLog, ManualClock } from '@fanout/testkit';
import { describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  buildPayload,
  type DispatchSettings,
  dispatchBatches,
  isRetryableInvokeError,
  type PreparedBatch,
} from '../../src/index.js';
import { awsError, FakeLambda, memoryStore } from '../helpers/fakes.js';
import { RUN, source } from '../helpers/sources.js';

const SETTINGS: DispatchSettings = {
  collectorFunction: 'fanout-collector',
  invocationType: 'Event',
  concurrency: 4,
  payloadLimitBytes: 1_048_576,
  retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1_000 },
};

function batch(id: string, ...sourceIds: string[]): PreparedBatch {
  const tasks = sourceIds.map((s) => ({ source: source(s), estimateMs: 10 }));
  return { batchId: id, payload: buildPayload(RUN.runId, RUN.scheduledAt, id, tasks), missing: [] };
}

function harness(lambda: FakeLambda) {
  const sleeps: number[] = [];
  const store = memoryStore();
  const log = captureLog();
  const deps = {
    lambda,
    store,
    log,
    clock: new ManualClock(),
    sleep: async (ms: number) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
  };
  return { deps, sleeps, store, log };
}

describe('isRetryableInvokeError', () => {
  it.each([
    ['TooManyRequestsException', 429, true],
    ['ServiceException', 500, true],
    ['EC2ThrottledException', 502, true],
    ['SomeFutureServerError', 503, true],
    ['ResourceNotFoundException', 404, false],
    ['InvalidRequestContentException', 400, false],
    ['RequestTooLargeException', 413, false],
  ])('%s (%i) -> %s', (name, status, expected) => {
    expect(isRetryableInvokeError(awsError(name, status))).toBe(expected);
  });

  it('retries network faults, also when wrapped as a cause', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(isRetryableInvokeError(reset)).toBe(true);
    expect(isRetryableInvokeError(new Error('wrapped', { cause: reset }))).toBe(true);
    expect(isRetryableInvokeError(new Error('plain'))).toBe(false);
  });
});

describe('backoffDelayMs', () => {
  const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1_000 };
  it('doubles the ceiling per attempt up to the cap, jittered between half and all of it', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelayMs(a, policy, () => 0))).toEqual([
      50, 100, 200, 400, 500, 500,
    ]);
    expect([1, 2, 3, 4, 5].map((a) => backoffDelayMs(a, policy, () => 0.999999))).toEqual([
      100, 200, 400, 800, 1_000,
    ]);
  });
});

describe('dispatchBatches', () => {
  it('invokes the collector once per batch with the payload, as an Event', async () => {
    const lambda = new FakeLambda();
    const { deps, sleeps } = harness(lambda);
    const batches = [batch('b00000', 'a', 'b'), batch('b00001', 'c')];

    const report = await dispatchBatches(RUN.runId, batches, SETTINGS, deps);

    expect(report).toEqual({ dispatched: ['b00000', 'b00001'], failures: [] });
    expect(lambda.calls.map((c) => [c.functionName, c.invocationType])).toEqual([
      ['fanout-collector', 'Event'],
      ['fanout-collector', 'Event'],
    ]);
    const sent = lambda.calls.map((c) => (c.payload as CollectorPayload).batchId).sort();
    expect(sent).toEqual(['b00000', 'b00001']);
    expect(sleeps).toEqual([]);
  });

  it('backs off on throttling and 5xx, then succeeds', async () => {
    const lambda = new FakeLambda((_, i) => {
      if (i === 0) throw awsError('TooManyRequestsException', 429, 'Rate exceeded');
      if (i === 1) throw awsError('ServiceException', 500);
      return { StatusCode: 202 };
    });
    const { deps, sleeps, store } = harness(lambda);

    const report = await dispatchBatches(RUN.runId, [batch('b00000', 'a')], SETTINGS, deps);

    expect(report.dispatched).toEqual(['b00000']);
    expect(lambda.calls).toHaveLength(3);
    // random() = 0.5: 3/4 of the ceiling, which doubles (100, 200).
    expect(sleeps).toEqual([75, 150]);
    expect(store.objects.size).toBe(0);
  });

  it('records a batch that stays throttled as dispatch-failed with its full payload', async () => {
    const lambda = new FakeLambda(() => {
      throw awsError('TooManyRequestsException', 429, 'Rate exceeded');
    });
    const { deps, sleeps, store, log } = harness(lambda);
    const throttled = batch('b00007', 'a', 'b');

    const report = await dispatchBatches(RUN.runId, [throttled], SETTINGS, deps);

    expect(report.dispatched).toEqual([]);
    expect(lambda.calls).toHaveLength(4);
    expect(sleeps).toHaveLength(3);
    const record = BatchFailureSchema.parse(
      store.objects.get(batchFailureKey(RUN.runId, 'b00007', 0)),
    );
    expect(record).toMatchObject({
      kind: 'dispatch-failed',
      runId: RUN.runId,
      batchId: 'b00007',
      sourceIds: ['a', 'b'],
      payload: throttled.payload,
    });
    expect(record.reason).toMatch(/after 4 attempt\(s\): TooManyRequestsException: Rate exceeded/);
    expect(
      log.entries.some((e) => e.level === 'error' && e.message.includes('recorded for replay')),
    ).toBe(true);
  });

  it('does not retry what a retry cannot fix', async () => {
    const lambda = new FakeLambda(() => {
      throw awsError('ResourceNotFoundException', 404, 'Function not found: fanout-collector');
    });
    const { deps, sleeps, store } = harness(lambda);

    await dispatchBatches(RUN.runId, [batch('b00000', 'a')], SETTINGS, deps);

    expect(lambda.calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
    const record = BatchFailureSchema.parse(
      store.objects.get(batchFailureKey(RUN.runId, 'b00000', 0)),
    );
    expect(record.reason).toMatch(/Function not found.*\(not retryable\)/);
  });

  it('in RequestResponse mode records a collector FunctionError as a failure', async () => {
    const lambda = new FakeLambda(() => ({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: Buffer.from(JSON.stringify({ errorMessage: 'boom' })),
    }));
    const { deps, store } = harness(lambda);

    const report = await dispatchBatches(
      RUN.runId,
      [batch('b00000', 'a')],
      { ...SETTINGS, invocationType: 'RequestResponse' },
      deps,
    );

    expect(lambda.calls[0]?.invocationType).toBe('RequestResponse');
    expect(report.failures).toHaveLength(1);
    const record = BatchFailureSchema.parse(
      store.objects.get(batchFailureKey(RUN.runId, 'b00000', 0)),
    );
    expect(record.reason).toContain('FunctionError Unhandled');
    expect(record.reason).toContain('boom');
  });

  it('keeps at most `concurrency` invocations in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const lambda = new FakeLambda(() => ({ StatusCode: 202 }));
    const slow = {
      send: async (command: Parameters<FakeLambda['send']>[0]) => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight -= 1;
        return lambda.send(command);
      },
    };
    const { deps } = harness(lambda);
    const batches = Array.from({ length: 20 }, (_, i) =>
      batch(`b${String(i).padStart(5, '0')}`, `s${i}`),
    );

    const report = await dispatchBatches(RUN.runId, batches, SETTINGS, { ...deps, lambda: slow });

    expect(report.dispatched).toHaveLength(20);
    expect(peak).toBe(4);
  });

  it('records sources that can no longer be sent, and still dispatches the rest', async () => {
    const lambda = new FakeLambda();
    const { deps, store } = harness(lambda);
    const partial: PreparedBatch = {
      ...batch('b00003', 'a'),
      missing: [{ sourceId: 'gone', reason: 'no longer a valid entry of the source manifest' }],
    };

    const report = await dispatchBatches(RUN.runId, [partial], SETTINGS, deps);

    expect(report.dispatched).toEqual(['b00003']);
    const record = BatchFailureSchema.parse(
      store.objects.get(batchFailureKey(RUN.runId, 'b00003', 0)),
    );
    expect(record.sourceIds).toEqual(['gone']);
    expect(record.reason).toContain('gone: no longer a valid entry');
  });

  it('refuses to send a payload over the byte limit and records it instead', async () => {
    const lambda = new FakeLambda();
    const { deps, store } = harness(lambda);
    await dispatchBatches(
      RUN.runId,
      [batch('b00000', 'a')],
      { ...SETTINGS, payloadLimitBytes: 100 },
      deps,
    );
    expect(lambda.calls).toHaveLength(0);
    const record = BatchFailureSchema.parse(
      store.objects.get(batchFailureKey(RUN.runId, 'b00000', 0)),
    );
    expect(record.reason).toMatch(/over the limit of 100/);
  });
});

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { parseManagerEvent } from '@fanout/shared';
import { startTestHttp } from '@fanout/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { DeadLetterNotFoundError, LocalLambda } from '../../src/lambda/index.js';
import { fn, type Harness, startHarness } from './harness.js';

/** AWS's async invocation rules: queue, retries, maximum event age, on-failure destination. */
describe('async invocations', () => {
  const cleanups: (() => Promise<void>)[] = [];
  const track = (h: Harness) => {
    cleanups.push(() => h.stop());
    return h;
  };

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const sendEvent = (h: Harness, name: string, event: unknown) =>
    h.client.send(
      new InvokeCommand({
        FunctionName: name,
        InvocationType: 'Event',
        Payload: JSON.stringify(event),
      }),
    );

  it('retries a failing event, then dead-letters it with 1 + maxRetryAttempts attempts', async () => {
    // Arrange
    const h = track(await startHarness([fn('fails', 'throws', { maxRetryAttempts: 2 })]));

    // Act
    const accepted = await sendEvent(h, 'fails', { reason: 'always' });
    await h.lambda.drained();

    // Assess: drained() waited for both retries and the dead-letter write.
    expect(accepted.StatusCode).toBe(202);
    const stats = h.lambda.stats().fails;
    expect(stats).toMatchObject({ invocations: 3, errors: 3, retries: 2, deadLettered: 1 });
    expect(stats).toMatchObject({ queued: 0, retrying: 0, running: 0 });
    const letters = await h.lambda.deadLetters();
    expect(letters).toHaveLength(1);
    const [letter] = letters;
    expect(letter).toMatchObject({
      functionName: 'fails',
      event: { reason: 'always' },
      attempts: 3,
      reason: 'retries-exhausted',
      error: { type: 'FixtureFailureError', message: 'failed on purpose: always' },
      requestId: accepted.$metadata.requestId,
    });
    const file = join(h.home, 'dead-letters', 'fails', `${letter?.id}.json`);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(letter);
  });

  it("sends an event it gives up on to its on-failure destination function, as Lambda's failure record", async () => {
    // Arrange: the destination fails too, so its dead letter shows the record it was sent.
    const h = track(
      await startHarness([
        fn('fails', 'throws', { maxRetryAttempts: 1, onFailureFunction: 'destination' }),
        fn('destination', 'throws', { maxRetryAttempts: 0 }),
      ]),
    );

    // Act
    const accepted = await sendEvent(h, 'fails', { reason: 'always' });
    await h.lambda.drained();

    // Assess
    expect(h.lambda.stats().fails).toMatchObject({
      invocations: 2,
      deadLettered: 0,
      sentToDestination: 1,
    });
    const letters = await h.lambda.deadLetters();
    expect(letters.map((letter) => letter.functionName)).toEqual(['destination']);
    const record = letters[0]?.event;
    expect(record).toMatchObject({
      version: '1.0',
      requestContext: {
        requestId: accepted.$metadata.requestId,
        functionArn: expect.stringContaining(':function:fails'),
        condition: 'RetriesExhausted',
        approximateInvokeCount: 2,
      },
      requestPayload: { reason: 'always' },
      responsePayload: {
        errorType: 'FixtureFailureError',
        errorMessage: 'failed on purpose: always',
      },
    });
    // The manager recognises it as what it is.
    expect(parseManagerEvent(record)).toMatchObject({ kind: 'failed-invocation' });
  });

  it('refuses an on-failure destination that is not one of its functions', () => {
    expect(
      () =>
        new LocalLambda([fn('fails', 'throws', { onFailureFunction: 'nowhere' })], {
          home: tmpdir(),
        }),
    ).toThrow('on-failure destination nowhere of fails is not configured');
  });

  it('runs a retried event to success without dead-lettering it', async () => {
    const state = await mkdtemp(join(tmpdir(), 'fanout-flaky-'));
    cleanups.push(() => rm(state, { recursive: true, force: true }));
    const h = track(
      await startHarness([
        fn('flaky', 'flaky', { env: { AWS_REGION: 'us-east-1', FIXTURE_STATE_DIR: state } }),
      ]),
    );

    await sendEvent(h, 'flaky', { key: 'k1', failures: 2 });
    await h.lambda.drained();

    expect(h.lambda.stats().flaky).toMatchObject({ invocations: 3, retries: 2, deadLettered: 0 });
    expect(await h.lambda.deadLetters()).toEqual([]);
  });

  it('re-delivers a dead letter with a fresh attempt count and deletes its file', async () => {
    // Arrange: one dead letter from a function that fails twice per key.
    const state = await mkdtemp(join(tmpdir(), 'fanout-flaky-'));
    cleanups.push(() => rm(state, { recursive: true, force: true }));
    const h = track(
      await startHarness([
        fn('flaky', 'flaky', {
          maxRetryAttempts: 1,
          env: { AWS_REGION: 'us-east-1', FIXTURE_STATE_DIR: state },
        }),
      ]),
    );
    await sendEvent(h, 'flaky', { key: 'k2', failures: 2 });
    await h.lambda.drained();
    const [letter] = await h.lambda.deadLetters();
    expect(letter?.attempts).toBe(2);

    // Act
    await h.lambda.redeliverDeadLetter(letter?.id ?? '');
    await h.lambda.drained();

    // Assess: the third attempt overall succeeded; the store is empty.
    expect(h.lambda.stats().flaky).toMatchObject({ invocations: 3, deadLettered: 1 });
    expect(await h.lambda.deadLetters()).toEqual([]);
    expect(await readdir(join(h.home, 'dead-letters', 'flaky'))).toEqual([]);
    await expect(h.lambda.redeliverDeadLetter(letter?.id ?? '')).rejects.toBeInstanceOf(
      DeadLetterNotFoundError,
    );
  });

  it('sends an event whose next retry would exceed the maximum event age to the destination', async () => {
    // 60 s of age allows the first retry (after ~60 s) but not the second (~120 s later),
    // counted in AWS time although the waits themselves are scaled down.
    const h = track(
      await startHarness([
        fn('short-lived', 'throws', { maxRetryAttempts: 2, maxEventAgeSeconds: 90 }),
      ]),
    );

    await sendEvent(h, 'short-lived', { reason: 'age' });
    await h.lambda.drained();

    const [letter] = await h.lambda.deadLetters();
    expect(letter).toMatchObject({ reason: 'event-too-old', attempts: 2 });
    expect(h.lambda.stats()['short-lived']).toMatchObject({ invocations: 2, retries: 1 });
  });

  it('never runs more async events at once than the reserved concurrency', async () => {
    // Arrange: the fixture reports entering and leaving to a probe server.
    let current = 0;
    let max = 0;
    let entered = 0;
    const probe = await startTestHttp((req, res) => {
      if (req.url?.startsWith('/enter')) {
        current += 1;
        entered += 1;
        max = Math.max(max, current);
      } else {
        current -= 1;
      }
      res.end('ok');
    });
    cleanups.push(() => probe.stop());
    const h = track(
      await startHarness([
        fn('bounded', 'probe', {
          reservedConcurrency: 3,
          env: { AWS_REGION: 'us-east-1', FIXTURE_PROBE_URL: probe.url },
        }),
      ]),
    );

    // Act
    for (let i = 0; i < 24; i += 1) await h.lambda.invokeAsync('bounded', { id: `e${i}`, ms: 15 });
    const peakQueued = h.lambda.stats().bounded?.queued ?? 0;
    await h.lambda.drained();

    // Assess
    expect(entered).toBe(24);
    expect(max).toBe(3);
    expect(peakQueued).toBe(21);
    expect(h.lambda.stats().bounded).toMatchObject({ invocations: 24, errors: 0 });
  });

  it('delivers an event twice when the duplicate-delivery fault fires', async () => {
    // Arrange: the injected random fires the fault for the first event only.
    const draws = [0.1, 0.9];
    const h = track(
      await startHarness([fn('echo', 'echo')], {
        faults: { duplicateDeliveryRate: 0.5 },
        random: () => draws.shift() ?? 0.99,
      }),
    );

    // Act
    await sendEvent(h, 'echo', { n: 1 });
    await sendEvent(h, 'echo', { n: 2 });
    await h.lambda.drained();

    // Assess
    expect(h.lambda.stats().echo).toMatchObject({ invocations: 3, duplicates: 1 });
  });

  it('kills an invocation as timed out when the forced-timeout fault fires, then retries it', async () => {
    // Arrange: the first invocation is killed at 10% of its 2 s timeout; later ones are not.
    const draws = [0.0, 0.05];
    const h = track(
      await startHarness([fn('sleepy', 'sleeps', { timeoutSeconds: 2 })], {
        faults: { forcedTimeoutRate: { sleepy: 0.5 } },
        random: () => draws.shift() ?? 0.99,
      }),
    );

    // Act
    await sendEvent(h, 'sleepy', { ms: 300 });
    await h.lambda.drained();

    // Assess
    expect(h.lambda.stats().sleepy).toMatchObject({
      invocations: 2,
      timeouts: 1,
      forcedTimeouts: 1,
      retries: 1,
      deadLettered: 0,
      coldStarts: 2,
    });
  });

  it('drained() waits for events that are between retries', async () => {
    const h = track(await startHarness([fn('fails', 'throws')], { retryDelayScale: 0.003 }));

    await h.lambda.invokeAsync('fails', { reason: 'wait' });
    let drained = false;
    const waiting = h.lambda.drained().then(() => {
      drained = true;
    });
    await waitFor(() => (h.lambda.stats().fails?.retrying ?? 0) === 1);

    // Between retries: the event is neither queued nor running, yet not done.
    expect(h.lambda.stats().fails).toMatchObject({ queued: 0, running: 0, retrying: 1 });
    expect(drained).toBe(false);
    await waiting;
    expect(h.lambda.stats().fails).toMatchObject({ invocations: 3, deadLettered: 1 });
  });

  it('stops cleanly with invocations running and events queued', async () => {
    const h = await startHarness([fn('sleepy', 'sleeps', { reservedConcurrency: 1 })]);
    await h.lambda.invokeAsync('sleepy', { ms: 2_000 });
    await h.lambda.invokeAsync('sleepy', { ms: 2_000 });
    const inFlight = h.client
      .send(new InvokeCommand({ FunctionName: 'sleepy', Payload: '{"ms":1}' }))
      .catch((caught: unknown) => caught);
    await waitFor(() => h.lambda.stats().sleepy?.running === 1);

    await h.stop();

    await h.lambda.drained();
    expect(h.lambda.stats().sleepy).toMatchObject({ running: 0, deadLettered: 0 });
    // The sync call was throttled (the slot was busy) or cut off by the closing server.
    expect(await inFlight).toBeInstanceOf(Error);
  });

  it('rejects an in-process event for an unknown function or over the async limit', async () => {
    const h = track(await startHarness([fn('echo', 'echo')], { asyncPayloadLimitBytes: 100 }));

    await expect(h.lambda.invokeAsync('nope', {})).rejects.toThrow(
      'Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope',
    );
    await expect(h.lambda.invokeAsync('echo', { big: 'x'.repeat(200) })).rejects.toThrow(
      'byte payload is too large for the Event invocation type (limit 100 bytes)',
    );
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i += 1) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('condition not met within 2.5 s');
}

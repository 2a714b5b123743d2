import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { fn, type Harness, startHarness } from './harness.js';

/**
 * The request id a function sees (context.awsRequestId), as AWS assigns it: Lambda's
 * automatic retries of an async event reuse it; every other invocation gets its own.
 */
const recorder = fileURLToPath(new URL('./fixtures/records-request-ids.mjs', import.meta.url));

describe('request ids of async invocations', () => {
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(options: Parameters<typeof startHarness>[1] = {}) {
    const state = await mkdtemp(join(tmpdir(), 'fanout-request-ids-'));
    cleanups.push(() => rm(state, { recursive: true, force: true }));
    const h = await startHarness(
      [
        fn('recorder', 'echo', {
          bundlePath: recorder,
          maxRetryAttempts: 2,
          env: { AWS_REGION: 'us-east-1', FIXTURE_STATE_DIR: state },
        }),
      ],
      options,
    );
    cleanups.push(() => h.stop());
    const idsOf = async (key: string) =>
      (await readFile(join(state, `${key}.ids`), 'utf8')).trim().split('\n');
    return { h, idsOf };
  }

  const sendEvent = (h: Harness, event: unknown) =>
    h.client.send(
      new InvokeCommand({
        FunctionName: 'recorder',
        InvocationType: 'Event',
        Payload: JSON.stringify(event),
      }),
    );

  it('runs every retry of a failing event with the request id the Invoke answered', async () => {
    // Prepare
    const { h, idsOf } = await start();

    // Act: two failures, then success on the second retry.
    const accepted = await sendEvent(h, { key: 'retried', failures: 2 });
    await h.lambda.drained();

    // Assess
    const ids = await idsOf('retried');
    expect(ids).toHaveLength(3);
    expect(accepted.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids).toEqual([
      accepted.$metadata.requestId,
      accepted.$metadata.requestId,
      accepted.$metadata.requestId,
    ]);
    expect(h.lambda.stats().recorder).toMatchObject({ invocations: 3, retries: 2 });
  });

  it('gives each Invoke of the same payload its own request id', async () => {
    const { h, idsOf } = await start();

    const first = await sendEvent(h, { key: 'twice', failures: 0 });
    const second = await sendEvent(h, { key: 'twice', failures: 0 });
    await h.lambda.drained();

    const ids = await idsOf('twice');
    expect(ids).toHaveLength(2);
    expect(first.$metadata.requestId).not.toBe(second.$metadata.requestId);
    expect([...ids].sort()).toEqual(
      [first.$metadata.requestId ?? '', second.$metadata.requestId ?? ''].sort(),
    );
  });

  it('gives a duplicate delivery its own request id, and each delivery keeps its id through its retries', async () => {
    // Prepare: the duplicate-delivery fault fires for the one event sent.
    const draws = [0.1];
    const { h, idsOf } = await start({
      faults: { duplicateDeliveryRate: 0.5 },
      random: () => draws.shift() ?? 0.99,
    });

    // Act: the first attempt of each request id fails, its retry succeeds.
    const accepted = await sendEvent(h, { key: 'duplicated', failuresPerRequestId: 1 });
    await h.lambda.drained();

    // Assess: two ids, the Invoke's among them; four attempts (two deliveries, two retries).
    const ids = await idsOf('duplicated');
    const distinct = [...new Set(ids)];
    expect(ids).toHaveLength(4);
    expect(distinct).toHaveLength(2);
    expect(distinct).toContain(accepted.$metadata.requestId);
    for (const id of distinct) expect(ids.filter((seen) => seen === id)).toHaveLength(2);
    expect(h.lambda.stats().recorder).toMatchObject({ duplicates: 1, retries: 2 });
  });

  it('re-delivers a dead letter as a new invocation with a new request id', async () => {
    // Prepare: three failures exhaust the two retries.
    const { h, idsOf } = await start();
    await h.lambda.invokeAsync('recorder', { key: 'dead', failures: 3 });
    await h.lambda.drained();
    const [letter] = await h.lambda.deadLetters();
    expect(letter?.attempts).toBe(3);

    // Act
    await h.lambda.redeliverDeadLetter(letter?.id ?? '');
    await h.lambda.drained();

    // Assess: three attempts under the letter's id, then one under a new id.
    const ids = await idsOf('dead');
    expect(ids.slice(0, 3)).toEqual([letter?.requestId, letter?.requestId, letter?.requestId]);
    expect(ids).toHaveLength(4);
    expect(ids[3]).not.toBe(letter?.requestId);
  });
});

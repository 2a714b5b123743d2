import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvokeCommand, TooManyRequestsException } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fn, type Harness, json, startHarness } from './harness.js';

/** How function code runs: warm workers, timeouts, memory, throttling, logs, billing. */
describe('function execution', () => {
  let h: Harness;

  beforeAll(async () => {
    process.env.FIXTURE_PARENT_ONLY = 'the parent process only';
    h = await startHarness([
      fn('echo', 'echo', { reservedConcurrency: 1 }),
      fn('sleeper', 'sleeps', { timeoutSeconds: 0.3, reservedConcurrency: 1 }),
      fn('hog', 'oom', { memoryMb: 32 }),
      fn('headless', 'no-handler'),
      fn('throttled', 'sleeps', { reservedConcurrency: 1 }),
    ]);
  });

  afterAll(async () => {
    delete process.env.FIXTURE_PARENT_ONLY;
    await h.stop();
  });

  const invoke = (name: string, event: unknown) =>
    h.client.send(new InvokeCommand({ FunctionName: name, Payload: JSON.stringify(event) }));

  it('imports the bundle once per worker and reuses the warm worker', async () => {
    // Act
    const first = json((await invoke('echo', { i: 1 })).Payload) as Record<string, number>;
    const second = json((await invoke('echo', { i: 2 })).Payload) as Record<string, number>;
    const third = json((await invoke('echo', { i: 3 })).Payload) as Record<string, number>;

    // Assess: module state survives between invocations of one worker.
    expect([first, second, third].map((r) => r.invocationsInThisWorker)).toEqual([1, 2, 3]);
    expect(h.lambda.stats().echo?.coldStarts).toBe(1);
  });

  it("gives the worker the function's environment, not the parent's", async () => {
    const out = json((await invoke('echo', {})).Payload) as { env: Record<string, unknown> };

    expect(out.env.parentOnly).toBeNull();
    expect(out.env.functionName).toBe('echo');
  });

  it('kills a function at its timeout with Lambda wording and replaces the worker', async () => {
    // Act
    const timedOut = await invoke('sleeper', { ms: 5_000 });
    const next = await invoke('sleeper', { ms: 1 });

    // Assess
    expect(timedOut.FunctionError).toBe('Unhandled');
    const error = json(timedOut.Payload) as { errorType: string; errorMessage: string };
    expect(error.errorType).toBe('Sandbox.Timedout');
    expect(error.errorMessage).toMatch(
      /^RequestId: [0-9a-f-]{36} Error: Task timed out after 0\.30 seconds$/,
    );
    expect(next.FunctionError).toBeUndefined();
    // A fresh worker: its module state starts again.
    expect(json(next.Payload)).toEqual({ slept: 1, invocationsInThisWorker: 1 });
    const stats = h.lambda.stats().sleeper;
    expect(stats?.timeouts).toBe(1);
    expect(stats?.coldStarts).toBe(2);
  });

  it('stops a handler stuck in a synchronous loop', async () => {
    const out = await invoke('sleeper', { spin: true });

    expect((json(out.Payload) as { errorType: string }).errorType).toBe('Sandbox.Timedout');
    expect((await invoke('sleeper', { ms: 1 })).FunctionError).toBeUndefined();
  });

  it('ends a worker that exceeds the memory setting with an out-of-memory error', async () => {
    const out = await invoke('hog', {});

    expect(out.FunctionError).toBe('Unhandled');
    expect((json(out.Payload) as { errorType: string }).errorType).toBe('Runtime.OutOfMemory');
    expect(h.lambda.stats().hog?.errors).toBe(1);
  });

  it('reports a bundle without the handler export as Runtime.HandlerNotFound', async () => {
    const out = await invoke('headless', {});

    expect(json(out.Payload)).toMatchObject({
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: 'index.handler is undefined or not exported',
    });
  });

  it('throttles a sync invocation with 429 while every reserved slot is busy', async () => {
    // Arrange: the only slot is taken by a slow invocation.
    const busy = invoke('throttled', { ms: 400 });
    await waitFor(() => h.lambda.stats().throttled?.running === 1);

    // Act
    const error = await invoke('throttled', { ms: 1 }).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(TooManyRequestsException);
    expect((error as TooManyRequestsException).$metadata.httpStatusCode).toBe(429);
    expect((error as TooManyRequestsException).Reason).toBe(
      'ReservedFunctionConcurrentInvocationLimitExceeded',
    );
    expect((await busy).FunctionError).toBeUndefined();
    expect(h.lambda.stats().throttled?.throttles).toBe(1);
  });

  it('records a billed duration per invocation, rounded up to whole milliseconds', () => {
    const stats = h.lambda.stats().echo;

    expect(stats?.memoryMb).toBe(128);
    expect(stats?.billedMsList).toHaveLength(stats?.invocations ?? -1);
    for (const billed of stats?.billedMsList ?? []) {
      expect(Number.isInteger(billed) && billed >= 1).toBe(true);
    }
    expect(stats?.billedMs).toBe(stats?.billedMsList.reduce((sum, ms) => sum + ms, 0));
  });

  it("writes the function's output and Lambda's START/END/REPORT lines to its log file", async () => {
    await invoke('echo', { logged: 'marker-7' });
    const log = join(h.home, 'logs', 'echo.log');

    await waitFor(async () => (await readFile(log, 'utf8')).includes('marker-7'));
    const text = await readFile(log, 'utf8');
    expect(text).toMatch(/START RequestId: [0-9a-f-]{36} Version: \$LATEST/);
    expect(text).toMatch(/REPORT RequestId: .*Billed Duration: \d+ ms\tMemory Size: 128 MB/);
  });
});

async function waitFor(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i += 1) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not met within 5 s');
}

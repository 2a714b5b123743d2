import { setTimeout as sleepMs } from 'node:timers/promises';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { loadConfig, startRun } from '@fanout/manager';
import { runIdFromTime, systemClock } from '@fanout/shared';
import { silentLog } from '../common.js';

const TIME = new Date('2026-06-01T00:00:00Z');

export interface DispatchWork {
  readonly tasks: number;
  readonly invocations: number;
  readonly failed: number;
  readonly runMs: number;
}

/**
 * The manager core as the handler runs it, in its own process: `startRun` with the settings
 * in the environment (bucket, collector function, batch sizes; endpoints are read by the SDK).
 */
export async function managerRun(): Promise<DispatchWork> {
  const config = loadConfig(process.env);
  const s3 = new S3Client({ forcePathStyle: true });
  // As the handler builds it: one attempt per call, the manager owns retries.
  const lambda = new LambdaClient({ maxAttempts: 1 });
  const started = performance.now();
  const summary = await startRun(
    { kind: 'schedule', runId: runIdFromTime(TIME), scheduledAt: TIME.toISOString(), via: 'rule' },
    { requestId: 'bench-dispatch' },
    {
      config,
      store: { s3, bucket: config.bucket },
      lambda,
      log: silentLog,
      clock: systemClock,
      sleep: (ms) => sleepMs(ms),
      random: Math.random,
    },
  );
  const runMs = performance.now() - started;
  s3.destroy();
  lambda.destroy();
  return {
    tasks: summary.tasks,
    invocations: summary.dispatched,
    failed: summary.failed,
    runMs,
  };
}

/**
 * The floor of dispatch: `count` bare `Invoke` (Event) calls of `functionName`, `concurrency`
 * at a time, with a payload of `payloadBytes`, from a LambdaClient built as the manager builds
 * it. Nothing else: no plan, no S3, no retries.
 */
export async function invokeLoop(
  functionName: string,
  count: number,
  concurrency: number,
  payloadBytes: number,
): Promise<DispatchWork> {
  const lambda = new LambdaClient({ maxAttempts: 1 });
  let next = 0;
  let failed = 0;
  const started = performance.now();
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const payload = JSON.stringify({ batchId: `floor-${i}`, pad: 'x'.repeat(payloadBytes) });
      try {
        await lambda.send(
          new InvokeCommand({
            FunctionName: functionName,
            InvocationType: 'Event',
            Payload: Buffer.from(payload),
          }),
        );
      } catch {
        failed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const runMs = performance.now() - started;
  lambda.destroy();
  return { tasks: count, invocations: count - failed, failed, runMs };
}

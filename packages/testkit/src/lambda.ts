import { randomUUID } from 'node:crypto';
import type { Clock, LambdaContext, Log } from '@fanout/shared';

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  constructor(private current = Date.parse('2026-11-25T13:10:00Z')) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

/** A Lambda-shaped context whose remaining time follows `clock`. */
export function fakeContext(
  options: { functionName?: string; timeoutMs?: number; clock?: Clock } = {},
): LambdaContext {
  const clock = options.clock ?? { now: () => Date.now() };
  const deadline = clock.now() + (options.timeoutMs ?? 60_000);
  const functionName = options.functionName ?? 'fanout-test';
  return {
    awsRequestId: randomUUID(),
    functionName,
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    getRemainingTimeInMillis: () => Math.max(0, deadline - clock.now()),
  };
}

export interface CapturedLog extends Log {
  readonly entries: { level: string; message: string; extra: unknown[] }[];
}

/** A logger that keeps what it is told, for assertions. */
export function captureLog(): CapturedLog {
  const entries: CapturedLog['entries'] = [];
  const at =
    (level: string) =>
    (message: string, ...extra: unknown[]) => {
      entries.push({ level, message, extra });
    };
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

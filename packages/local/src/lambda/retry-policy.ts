/**
 * Lambda's async retry rules (aws-facts.md, "Lambda asynchronous invocation"):
 * after a function error it waits about 1 minute before the first retry and about
 * 2 minutes before the second; an event older than the function's maximum event
 * age goes to the on-failure destination instead of being retried.
 */
export const RETRY_DELAYS_MS: readonly number[] = [60_000, 120_000];

/** The AWS-time wait before retry number `retry` (1-based). */
export function retryDelayMs(retry: number): number {
  const last = RETRY_DELAYS_MS[RETRY_DELAYS_MS.length - 1] ?? 0;
  return RETRY_DELAYS_MS[retry - 1] ?? last;
}

/**
 * The age an event would have in AWS. Retry waits are shortened locally by the
 * retry delay scale; the age counts each wait at its full AWS length, plus the
 * real time the event spent queued and running. So the maximum event age keeps
 * its AWS meaning (a 60 s limit expires before a second retry), whatever the scale,
 * and an event waiting for a busy function locally is not dropped sooner than AWS would.
 */
export function emulatedAgeMs(event: {
  firstReceivedAt: number;
  skippedWaitMs: number;
  now: number;
}): number {
  return event.now - event.firstReceivedAt + event.skippedWaitMs;
}

export type AfterFailure =
  | { action: 'retry'; delayMs: number; scaledDelayMs: number }
  | { action: 'dead-letter'; reason: 'retries-exhausted' | 'event-too-old' };

/** What Lambda does with an async event after its `attempts`-th invocation failed. */
export function afterFailure(input: {
  attempts: number;
  maxRetryAttempts: number;
  maxEventAgeSeconds: number;
  ageMs: number;
  retryDelayScale: number;
}): AfterFailure {
  if (input.attempts > input.maxRetryAttempts) {
    return { action: 'dead-letter', reason: 'retries-exhausted' };
  }
  const delayMs = retryDelayMs(input.attempts);
  if (input.ageMs + delayMs > input.maxEventAgeSeconds * 1000) {
    return { action: 'dead-letter', reason: 'event-too-old' };
  }
  return { action: 'retry', delayMs, scaledDelayMs: delayMs * input.retryDelayScale };
}

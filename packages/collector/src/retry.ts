/** Statuses worth another attempt: the upstream is overloaded or briefly broken. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

/**
 * Milliseconds a `Retry-After` header asks for: delta-seconds or an HTTP date
 * (RFC 9110 section 10.2.3). Undefined when absent or unreadable; never negative.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Date.parse accepts too much (e.g. "5"), so require the shape of an HTTP date.
  if (!/[A-Za-z]{3}/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxDelayMs: number;
}

/**
 * Wait before attempt `attempt + 1` (attempt counts from 1): exponential with
 * full jitter, so many collectors retrying one upstream spread out. A
 * Retry-After the upstream sent replaces the backoff; both are capped.
 */
export function retryDelayMs(
  attempt: number,
  policy: BackoffPolicy,
  retryAfterMs: number | undefined,
  random: () => number,
): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxDelayMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

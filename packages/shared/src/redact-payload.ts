import type { BatchFailure } from './records.js';
import { REDACTED, redactUrl, redactUrlsIn } from './redact.js';

/** Deeper than any valid payload; a hostile document must not exhaust the stack. */
const MAX_DEPTH = 32;

/**
 * A copy of a payload fit to store in a failure record: every URL in any string through
 * `redactUrl` (no `user:password@`, query values `REDACTED`), and every value of a
 * `headers` object replaced by `REDACTED`, names kept. Works on any JSON value, since an
 * invalid payload has no known shape. The copy cannot be re-sent as it is: a replay
 * rebuilds the tasks from the source manifest (the record's `sourceIds`).
 */
export function redactPayload(value: unknown): unknown {
  return redactValue(value, 0, false);
}

function redactValue(value: unknown, depth: number, isHeaders: boolean): unknown {
  if (typeof value === 'string') return isHeaders ? REDACTED : redactUrlsIn(value);
  if (value === null || typeof value !== 'object') return isHeaders ? REDACTED : value;
  if (depth >= MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) {
    return value.map((item) => redactValue(item, depth + 1, isHeaders));
  }
  return Object.fromEntries(
    Object.entries(value).map(([name, item]) => [
      name,
      isHeaders
        ? REDACTED
        : name === 'url' && typeof item === 'string'
          ? redactUrl(item)
          : redactValue(item, depth + 1, name === 'headers'),
    ]),
  );
}

/**
 * A BatchFailure as a function stores it: `payload` is a redacted copy, which
 * `payloadRedacted` says, so a replay knows to rebuild the tasks from the manifest.
 */
export type RecordedBatchFailure = BatchFailure & { readonly payloadRedacted: true };

/** The failure with its payload replaced by a redacted copy. */
export function withRedactedPayload(failure: BatchFailure): RecordedBatchFailure {
  return { ...failure, payload: redactPayload(failure.payload), payloadRedacted: true };
}

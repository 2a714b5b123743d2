import type { BatchFailure } from './records.js';
import { REDACTED, redactUrl, redactUrlLike, redactUrlsIn } from './redact.js';
import { parseSecretReference } from './secrets.js';

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

/** Fields whose values are credentials or may be: only a secret reference in them is shown. */
const CREDENTIAL_FIELDS: ReadonlySet<string> = new Set(['headers', 'query', 'basicAuth']);

/** The fields a secret reference has that are never a credential: a valid reference, its JSON key. */
function showsInCredentialField(name: PropertyKey, value: unknown): boolean {
  if (name === 'key') return true;
  return (
    name === 'secret' && typeof value === 'string' && parseSecretReference(value) !== undefined
  );
}

/**
 * A copy of `value`, found at `path` of a document, fit to quote in an error message, a
 * log or a record: values under `headers`, `query` and `basicAuth` are `REDACTED` (but a
 * valid secret reference, which names where a credential is, not the credential), so is a
 * `secret` that is not a valid reference (a token pasted where the reference belongs), and
 * every URL is redacted (`user:password@` removed, query values `REDACTED`), including
 * text in a `url` field that does not parse as a URL.
 */
export function redactForMessage(value: unknown, path: readonly PropertyKey[] = []): unknown {
  const inCredentials = path.some(
    (part) => typeof part === 'string' && CREDENTIAL_FIELDS.has(part),
  );
  return redactAt(value, path.at(-1), inCredentials, 0);
}

function redactAt(
  value: unknown,
  name: PropertyKey | undefined,
  inCredentials: boolean,
  depth: number,
): unknown {
  if (depth >= MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) {
    return value.map((item, index) => redactAt(item, index, inCredentials, depth + 1));
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        redactAt(item, key, inCredentials || CREDENTIAL_FIELDS.has(key), depth + 1),
      ]),
    );
  }
  if (name === 'secret' && !showsInCredentialField(name, value)) return REDACTED;
  if (inCredentials && name !== undefined && !showsInCredentialField(name, value)) {
    return REDACTED;
  }
  if (typeof value !== 'string') return value;
  return name === 'url' ? redactUrlLike(value) : redactUrlsIn(value);
}

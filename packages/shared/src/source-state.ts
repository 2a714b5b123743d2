import { createHash } from 'node:crypto';
import type { Source } from './manifest.js';
import { type CollectorTask, MAX_PREVIOUS_RAW_KEYS, type Validators } from './payload.js';
import { higherCursor } from './record-selection.js';
import type { SourceState, TaskOutcome } from './records.js';

/**
 * How per-source state travels from run to run, in one place:
 *
 *   collector   a task's outcome (validators, bytes, duration) goes into its hop's pack header
 *   manager     the next run merges each outcome into the state (`mergeOutcome`) and
 *               stores the state in its run manifest, once
 *   manager     planning, the state is fitted to the source's current definition
 *               (`stateForDefinition`) and put into the task (`carriedToTask`)
 *   collector   sends the validators (`If-None-Match`, `If-Modified-Since`, the hash)
 *
 * A new value that must travel the same way is a field of SourceState set in
 * `mergeOutcome`, sent in `carriedToTask` and dropped in `stateForDefinition`.
 */

/**
 * The fields of a manifest entry that decide what is fetched and how it is parsed. The
 * others (`every`, `timeoutMs`, `expectedDurationMs`, `maxBytes`, the allow flags) tune
 * when and how patiently a source is fetched: editing them keeps its validators. A
 * `cursor` decides what is fetched (its parameter) and what its value means, so a new one
 * starts from nothing. (An absent field leaves the fingerprint as it was: adding a field
 * here changes no existing source's.)
 */
const DEFINITION_FIELDS = [
  'url',
  'format',
  'options',
  'headers',
  'query',
  'basicAuth',
  'pagination',
  'cursor',
] as const satisfies readonly (keyof Source)[];

/** Characters of the fingerprint: 96 bits, enough to tell edits apart, short in the state. */
const DEFINITION_LENGTH = 16;

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([key, item]) => [key, canonical(item)]));
}

/**
 * A fingerprint of what a source fetches and how it parses (its URL, format, parse
 * options, headers, query, basic auth and pagination; secret references as written,
 * never their values). When it changes, the source's validators no longer describe
 * what a fetch would bring, so they are dropped.
 */
export function sourceDefinition(source: Source): string {
  const fields: Record<string, unknown> = {};
  for (const field of DEFINITION_FIELDS) fields[field] = source[field];
  return createHash('sha256')
    .update(JSON.stringify(canonical(fields)))
    .digest('base64url')
    .slice(0, DEFINITION_LENGTH);
}

/**
 * The state to plan a source with, for its current definition. When the definition
 * changed, validators and the last body's size are dropped, so the source is fetched
 * once in full and parsed with its new options; so are the previous fetch's raw keys and
 * the cursor, so that fetch emits every record; measured durations stay (estimates only).
 * A state from before definitions were recorded adopts the current one as is (an upgrade
 * does not refetch every source).
 */
export function stateForDefinition(
  state: SourceState | undefined,
  definition: string,
): SourceState {
  if (state === undefined) return { validators: {}, durationsMs: [], definition };
  if (state.definition === undefined || state.definition === definition) {
    return { ...state, definition };
  }
  const { validators: _dropped, bytes: _size, rawKeys: _fetched, cursor: _seen, ...kept } = state;
  return { ...kept, validators: {}, definition };
}

/** The validators worth sending, or undefined when there are none. */
export function previousValidators(state: SourceState | undefined): Validators | undefined {
  const validators = state?.validators;
  if (!validators) return undefined;
  const out: Validators = {};
  if (validators.etag !== undefined) out.etag = validators.etag;
  if (validators.lastModified !== undefined) out.lastModified = validators.lastModified;
  if (validators.sha256 !== undefined) out.sha256 = validators.sha256;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** What a collector task carries from the source's state (fitted to its definition first). */
export function carriedToTask(
  state: SourceState | undefined,
): Pick<CollectorTask, 'previous' | 'expectedBytes' | 'previousRawKeys' | 'cursor'> {
  const previous = previousValidators(state);
  return {
    ...(previous ? { previous } : {}),
    ...(state?.bytes !== undefined ? { expectedBytes: state.bytes } : {}),
    ...(state?.rawKeys !== undefined ? { previousRawKeys: state.rawKeys } : {}),
    ...(state?.cursor !== undefined ? { cursor: state.cursor } : {}),
  };
}

export interface OutcomeContext {
  readonly runId: string;
  /** Measured durations kept per source. */
  readonly durationsKept: number;
  /** The definition the run fetched the source with (its manifest's state), if recorded. */
  readonly ranWith?: string;
  /** What the parse of the outcome's pages leaves in the state (sources with emit or cursor). */
  readonly records?: RecordsSeen;
}

/** What the state keeps of a fetch's records, for the next fetch to emit from. */
export interface RecordsSeen {
  /** `emit: "changes"`: keep an `ok` outcome's raw keys (the next fetch's comparison). */
  readonly keepRawKeys: boolean;
  /**
   * The cursor value the parse outcomes of every raw object of the fetch reported; absent
   * when one has none yet (not parsed, quarantined): the cursor then stays where it was.
   */
  readonly cursor?: string;
}

function isNewer(finishedAt: string, than: string | undefined): boolean {
  return than === undefined || Date.parse(finishedAt) > Date.parse(than);
}

/**
 * Folds one task outcome into its source's state, or returns undefined when it must not
 * be: an outcome no newer than the last merged one (merging is idempotent), or one
 * fetched with a definition the source no longer has (a late outcome of an edited source).
 * A failed task keeps the validators and body size it had; a failure with no attempt or
 * no time of its own (never started, or ended by the hop limit) measured nothing.
 */
export function mergeOutcome(
  previous: SourceState | undefined,
  outcome: TaskOutcome,
  context: OutcomeContext,
): SourceState | undefined {
  if (!isNewer(outcome.finishedAt, previous?.lastFinishedAt)) return undefined;
  const { ranWith } = context;
  if (
    previous?.definition !== undefined &&
    ranWith !== undefined &&
    previous.definition !== ranWith
  ) {
    return undefined;
  }
  const measured = outcome.status !== 'failed' || (outcome.attempts > 0 && outcome.durationMs > 0);
  const durationsMs = [...(previous?.durationsMs ?? [])];
  if (measured) durationsMs.push(outcome.durationMs);
  const validators =
    outcome.status === 'failed' ? (previous?.validators ?? {}) : { ...outcome.validators };
  const bytes = outcome.status === 'ok' ? outcome.bytes : previous?.bytes;
  const definition = previous?.definition ?? ranWith;
  const rawKeys =
    outcome.status === 'ok'
      ? context.records?.keepRawKeys
        ? [...new Set(outcome.rawKeys)]
        : undefined
      : previous?.rawKeys;
  const cursor = higherCursor(previous?.cursor, context.records?.cursor);
  return {
    validators,
    durationsMs: durationsMs.slice(-context.durationsKept),
    lastRunId: context.runId,
    lastStatus: outcome.status,
    lastFinishedAt: outcome.finishedAt,
    ...(definition !== undefined ? { definition } : {}),
    ...(bytes !== undefined ? { bytes } : {}),
    ...(rawKeys !== undefined && rawKeys.length <= MAX_PREVIOUS_RAW_KEYS ? { rawKeys } : {}),
    ...(cursor !== undefined ? { cursor } : {}),
  };
}

/** HTTP statuses a later request may not get: 408 Request Timeout, 429 Too Many Requests. */
const RETRYABLE_CLIENT_ERRORS = new Set([408, 429]);

/** A 4xx other than 408 and 429: asking again gets the same answer. */
export function isPermanentHttpStatus(status: number): boolean {
  return status >= 400 && status < 500 && !RETRYABLE_CLIENT_ERRORS.has(status);
}

/**
 * Whether sending a failed task again cannot help until its source is edited: the
 * collector said so (a body over the limit, a refused address), or the upstream
 * answered a 4xx other than 408 and 429.
 */
export function isPermanentFailure(outcome: TaskOutcome): boolean {
  if (outcome.status !== 'failed') return false;
  if (outcome.permanent === true) return true;
  return outcome.httpStatus !== undefined && isPermanentHttpStatus(outcome.httpStatus);
}

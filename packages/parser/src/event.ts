import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  ContractValidationError,
  invalidEventKey,
  isRawKey,
  type LambdaContext,
  parseDefinitionsOf,
  parseS3Event,
} from '@fanout/shared';
import { TransientParseError } from './errors.js';
import { type ParserDeps, parseRawObject, type RawObjectResult } from './raw-object.js';

/** Counters the handler publishes as metrics (CloudWatch EMF). */
export type ParserMetricName =
  | 'ObjectsParsed'
  | 'ObjectsQuarantined'
  | 'ObjectsMissing'
  | 'PacksWithoutPages'
  | 'ObjectsFailed'
  | 'PagesParsed'
  | 'PagesQuarantined'
  | 'RecordsWritten'
  | 'BytesIn'
  | 'BytesOut'
  | 'EventRecordsRejected'
  | 'KeysIgnored';

export interface ParserMetrics {
  add(name: ParserMetricName, value: number): void;
}

export interface EventDeps extends ParserDeps {
  readonly metrics?: ParserMetrics;
}

function count(deps: EventDeps, result: RawObjectResult): void {
  const metrics = deps.metrics;
  if (!metrics) return;
  if (result.status === 'parsed') {
    metrics.add('ObjectsParsed', 1);
    metrics.add('PagesParsed', result.outcome.parsed);
    metrics.add('PagesQuarantined', result.outcome.quarantined);
    metrics.add('RecordsWritten', result.outcome.records);
    metrics.add('BytesIn', result.outcome.bytesIn);
    metrics.add('BytesOut', result.outcome.bytesOut);
  } else if (result.status === 'quarantined') {
    metrics.add('ObjectsQuarantined', 1);
  } else if (result.status === 'empty') {
    metrics.add('PacksWithoutPages', 1);
  } else {
    metrics.add('ObjectsMissing', 1);
  }
}

/** One rejected record of an S3 event, kept as it arrived so it can be replayed. */
export interface RejectedRecord {
  readonly index?: number;
  readonly errors: readonly string[];
  readonly record: unknown;
}

/** What the parser writes at `invalidEventKey(...)` for an event it could not use. */
export interface InvalidEventRecord {
  readonly function: 'parser';
  readonly requestId: string;
  readonly reason: string;
  readonly rejected: readonly RejectedRecord[];
  /** The whole event, when it was not an S3 event at all. */
  readonly event?: unknown;
  readonly recordedAt: string;
}

export interface EventSummary {
  readonly results: readonly RawObjectResult[];
  /** Decoded keys outside raw/ (a recursion guard), skipped. */
  readonly ignoredKeys: readonly string[];
  readonly rejected: readonly RejectedRecord[];
  /** Where the rejected records were written, if any. */
  readonly invalidEventKey?: string;
  /** Pages (pack entries or single raw objects) whose records were written. */
  readonly pagesParsed: number;
  /** Pack entries quarantined on their own (whole quarantined objects are in `results`). */
  readonly pagesQuarantined: number;
  readonly records: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

function recordsOf(event: unknown): unknown[] {
  if (typeof event !== 'object' || event === null) return [];
  const records = (event as { Records?: unknown }).Records;
  return Array.isArray(records) ? records : [];
}

async function recordInvalid(
  deps: ParserDeps,
  context: LambdaContext,
  reason: string,
  rejected: readonly RejectedRecord[],
  event?: unknown,
): Promise<string> {
  const recordedAt = new Date(deps.clock.now()).toISOString();
  const key = invalidEventKey(recordedAt, context.awsRequestId);
  const body: InvalidEventRecord = {
    function: 'parser',
    requestId: context.awsRequestId,
    reason,
    rejected,
    ...(event !== undefined ? { event } : {}),
    recordedAt,
  };
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.config.bucket,
      Key: key,
      Body: `${JSON.stringify(body, null, 2)}\n`,
      ContentType: 'application/json',
    }),
  );
  deps.log.warn('S3 event records rejected', { reason, invalidEventKey: key, rejected });
  return key;
}

/**
 * Handles one S3 notification: validates it, records what is invalid, skips keys
 * outside raw/, and parses each raw object (a pack or a single response) in turn. Objects are parsed one after
 * another: each already streams with bounded memory, and parsing several at once
 * in a 256 MB function would multiply that bound (S3 sends one record per event
 * today, so there is little to gain). A retryable fault on one object does not
 * stop the others; it is thrown at the end so Lambda retries the event, and the
 * objects already done are rewritten to the same keys.
 */
export async function handleS3Event(
  event: unknown,
  context: LambdaContext,
  deps: EventDeps,
): Promise<EventSummary> {
  const empty = {
    results: [],
    ignoredKeys: [],
    pagesParsed: 0,
    pagesQuarantined: 0,
    records: 0,
    bytesIn: 0,
    bytesOut: 0,
  };
  let parsed: ReturnType<typeof parseS3Event>;
  let definitions: ReturnType<typeof parseDefinitionsOf>;
  try {
    parsed = parseS3Event(event);
    definitions = parseDefinitionsOf(event);
  } catch (error) {
    if (!(error instanceof ContractValidationError)) throw error;
    const rejected = [{ errors: error.issues, record: event }];
    const key = await recordInvalid(deps, context, error.message, rejected, event);
    deps.metrics?.add('EventRecordsRejected', 1);
    return { ...empty, rejected, invalidEventKey: key };
  }

  const all = recordsOf(event);
  const rejected: RejectedRecord[] = parsed.invalid.map(({ index, errors }) => ({
    index,
    errors,
    record: all[index],
  }));
  const ignoredKeys: string[] = [];
  const keys: string[] = [];
  for (const ref of parsed.objects) {
    if (ref.bucket !== deps.config.bucket) {
      rejected.push({
        errors: [
          `s3.bucket.name: not the configured bucket ${JSON.stringify(deps.config.bucket)}, got ${JSON.stringify(ref.bucket)}`,
        ],
        record: ref,
      });
    } else if (!isRawKey(ref.key)) {
      deps.log.warn('ignored S3 event record for a key outside the raw prefix', {
        key: ref.key,
        encodedKey: ref.encodedKey,
      });
      ignoredKeys.push(ref.key);
    } else if (!keys.includes(ref.key)) {
      keys.push(ref.key);
    }
  }

  const results: RawObjectResult[] = [];
  const failures: { key: string; error: Error }[] = [];
  for (const key of keys) {
    try {
      const result = await parseRawObject(definitions ? { ...deps, definitions } : deps, key);
      count(deps, result);
      results.push(result);
    } catch (error) {
      // Unparseable objects never get here (they are quarantined); this is a fault to retry.
      const failure = error instanceof Error ? error : new Error(String(error));
      deps.log.error('raw object failed with a retryable fault', { key, error: failure });
      failures.push({ key, error: failure });
      deps.metrics?.add('ObjectsFailed', 1);
    }
  }

  const invalidKey =
    rejected.length > 0
      ? await recordInvalid(
          deps,
          context,
          `${rejected.length} S3 event record(s) rejected: ${rejected.map((r) => r.errors.join('; ')).join(' | ')}`,
          rejected,
        )
      : undefined;
  deps.metrics?.add('EventRecordsRejected', rejected.length);
  deps.metrics?.add('KeysIgnored', ignoredKeys.length);
  if (failures.length > 0) throw new TransientParseError(failures);

  let pagesParsed = 0;
  let pagesQuarantined = 0;
  let records = 0;
  let bytesIn = 0;
  let bytesOut = 0;
  for (const result of results) {
    if (result.status === 'parsed') {
      pagesParsed += result.outcome.parsed;
      pagesQuarantined += result.outcome.quarantined;
      records += result.outcome.records;
      bytesIn += result.outcome.bytesIn;
      bytesOut += result.outcome.bytesOut;
    }
  }
  return {
    results,
    ignoredKeys,
    rejected,
    ...(invalidKey !== undefined ? { invalidEventKey: invalidKey } : {}),
    pagesParsed,
    pagesQuarantined,
    records,
    bytesIn,
    bytesOut,
  };
}

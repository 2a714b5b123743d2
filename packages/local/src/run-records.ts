import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  type BatchFailure,
  BatchFailureSchema,
  type BatchResult,
  BatchResultSchema,
  batchResultsPrefix,
  check,
  computeRunStatus,
  failuresPrefix,
  finalOutcomes,
  fromParsedObjectMetadata,
  INVALID_EVENTS_PREFIX,
  isS3ConditionalConflict,
  isS3KeyExists,
  PACK_HEADER_MAX_BYTES,
  type PackHeader,
  PREFIXES,
  parsedKeyForRaw,
  parsePackKey,
  QuarantineReportSchema,
  quarantineReportKeyForRaw,
  type RawObjectOutcome,
  type RunManifest,
  RunManifestSchema,
  type RunRecords,
  type RunStatus,
  readPackHeader,
  runManifestKey,
  runPacksPrefix,
} from '@fanout/shared';
import type * as z from 'zod';

/**
 * A record that is not JSON (written by hand, or cut short by another S3-compatible
 * server that writes in place) counts as "not there yet" (the next poll sees the whole
 * object), never as a crash of the reader.
 */
function jsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isNotFound(error: unknown): boolean {
  const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return name === 'NoSuchKey' || name === 'NotFound' || $metadata?.httpStatusCode === 404;
}

export interface Listed {
  readonly key: string;
  readonly eTag: string;
  readonly size: number;
}

/** A raw object's outcome and when it was decided (parsedAt or quarantinedAt). */
export interface TimedRawOutcome {
  readonly outcome: RawObjectOutcome;
  readonly at: string;
}

const READ_CONCURRENCY = 16;
/** The id `runIdFromTime` gives a scheduled run. */
const SCHEDULED_RUN_ID = /^\d{8}T\d{6}Z$/;

/** Runs `work` over `items`, `READ_CONCURRENCY` at a time. */
async function eachConcurrently<T>(items: readonly T[], work: (item: T) => Promise<void>) {
  const queue = [...items];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, items.length) }, worker));
}

/** The raw keys the final outcome of each planned source names, each once. */
export function referencedRawKeys(results: readonly BatchResult[]): string[] {
  const keys = new Set<string>();
  for (const outcome of finalOutcomes(results).values()) {
    if (outcome.status === 'ok') for (const key of outcome.rawKeys) keys.add(key);
  }
  return [...keys];
}

/** One result per batch hop: a hop recorded twice (a retried hop) counts once, latest first. */
function oneResultPerHop(results: readonly BatchResult[]): BatchResult[] {
  const byHop = new Map<string, BatchResult>();
  for (const result of results) {
    const id = `${result.batchId}-h${result.hop}`;
    const seen = byHop.get(id);
    if (!seen || Date.parse(seen.writtenAt) <= Date.parse(result.writtenAt)) byHop.set(id, result);
  }
  return [...byHop.values()];
}

/**
 * Reads a run's records from S3 alone, so the same code answers for a local
 * bucket and a real one:
 *   - the run manifest (`runs/<run>/run.json`);
 *   - batch results: `runs/<run>/results/` for hops that stored no pack, and the
 *     header of each pack under `raw/packs/dt=<date>/<run>-` (only its first line);
 *   - failures (`runs/<run>/failures/`);
 *   - raw object outcomes: a HEAD of each referenced raw object's parsed object
 *     (the outcome is its metadata), else its quarantine report.
 * Listed objects are cached by ETag and decided raw outcomes are kept, so polling
 * a large run re-reads only what changed since the last look.
 */
export class RunRecordReader {
  private readonly cache = new Map<string, { eTag: string; value: unknown }>();
  private readonly decided = new Map<string, RawObjectOutcome>();

  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async status(runId: string): Promise<RunStatus> {
    return computeRunStatus(runId, await this.records(runId));
  }

  async records(runId: string): Promise<RunRecords> {
    const manifest = await this.readManifest(runId);
    const [results, packResults, failures] = await Promise.all([
      this.readAll(batchResultsPrefix(runId), BatchResultSchema),
      manifest ? this.readPackResults(runId, manifest.scheduledAt) : [],
      this.readAll(failuresPrefix(runId), BatchFailureSchema),
    ]);
    const allResults = oneResultPerHop([
      ...(results as BatchResult[]),
      ...packResults.filter((result) => result.runId === runId),
    ]);
    return {
      manifest,
      results: allResults,
      failures: failures as BatchFailure[],
      rawOutcomes: await this.rawOutcomes(referencedRawKeys(allResults)),
    };
  }

  async readManifest(runId: string): Promise<RunManifest | undefined> {
    const text = await this.getText(runManifestKey(runId));
    if (text === undefined) return undefined;
    const parsed = check(RunManifestSchema, jsonOrUndefined(text));
    return parsed.ok ? parsed.value : undefined;
  }

  /** Run ids with a `runs/<id>/` prefix, in no particular order (`_invalid/` left out). */
  async runIds(): Promise<string[]> {
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: PREFIXES.runs,
          Delimiter: '/',
          ContinuationToken: token,
        }),
      );
      for (const prefix of page.CommonPrefixes ?? []) {
        const id = prefix.Prefix?.slice(PREFIXES.runs.length, -1);
        if (id && `${PREFIXES.runs}${id}/` !== INVALID_EVENTS_PREFIX && !id.startsWith('_')) {
          ids.push(id);
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return ids;
  }

  /**
   * The latest run by time: the greatest `scheduledAt` (then `createdAt`) among
   * the run manifests. Ids are not compared as text (`manual-1` would beat every
   * scheduled id); a `runs/<id>/` prefix without a run manifest is not a run.
   */
  async latestRunId(): Promise<string | undefined> {
    const ids = await this.runIds();
    // A scheduled run's id is its time, so of those only the newest with a manifest can be
    // the latest: a bucket of a year of runs costs a few reads, not one per run.
    const scheduled = ids
      .filter((id) => SCHEDULED_RUN_ID.test(id))
      .sort()
      .reverse();
    const candidates: RunManifest[] = [];
    for (const id of scheduled) {
      const manifest = await this.readManifest(id);
      if (manifest) {
        candidates.push(manifest);
        break;
      }
    }
    await eachConcurrently(
      ids.filter((id) => !SCHEDULED_RUN_ID.test(id)),
      async (id) => {
        const manifest = await this.readManifest(id);
        if (manifest) candidates.push(manifest);
      },
    );
    let latest: RunManifest | undefined;
    for (const manifest of candidates) if (!latest || isLater(manifest, latest)) latest = manifest;
    return latest?.runId;
  }

  async list(prefix: string): Promise<Listed[]> {
    const out: Listed[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const item of page.Contents ?? []) {
        if (item.Key) out.push({ key: item.Key, eTag: item.ETag ?? '', size: item.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /**
   * What became of a raw object: the outcome in its parsed object's metadata (one
   * HEAD), else its quarantine report. With `since` (a reparse waiting for its own
   * outcome), an outcome decided earlier does not count: a parsed object older than
   * `since` gives way to a newer report (a reparse that quarantined it whole).
   */
  async readRawOutcome(rawKey: string, since?: number): Promise<TimedRawOutcome | undefined> {
    const parsed = await this.headParsedOutcome(rawKey);
    const fresh = (at: string) => since === undefined || Date.parse(at) >= since;
    if (parsed && fresh(parsed.at)) return parsed;
    const text = await this.getText(quarantineReportKeyForRaw(rawKey));
    const report =
      text === undefined ? undefined : check(QuarantineReportSchema, jsonOrUndefined(text));
    if (report?.ok && fresh(report.value.quarantinedAt)) {
      if (!parsed || Date.parse(report.value.quarantinedAt) > Date.parse(parsed.at)) {
        return {
          outcome: { status: 'quarantined', reason: report.value.reason },
          at: report.value.quarantinedAt,
        };
      }
    }
    return undefined;
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return out.Body ? await out.Body.transformToString('utf8') : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async headParsedOutcome(rawKey: string): Promise<TimedRawOutcome | undefined> {
    try {
      const head = await this.s3.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: parsedKeyForRaw(rawKey) }),
      );
      const outcome = fromParsedObjectMetadata(head.Metadata);
      return outcome ? { outcome: { status: 'parsed', outcome }, at: outcome.parsedAt } : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async rawOutcomes(keys: readonly string[]): Promise<Map<string, RawObjectOutcome>> {
    const outcomes = new Map<string, RawObjectOutcome>();
    const unknown = keys.filter((key) => {
      const known = this.decided.get(key);
      if (known) outcomes.set(key, known);
      return !known;
    });
    await eachConcurrently(unknown, async (key) => {
      const read = await this.readRawOutcome(key);
      if (!read) return;
      outcomes.set(key, read.outcome);
      this.decided.set(key, read.outcome);
    });
    return outcomes;
  }

  /** The batch result in the header of each of the run's packs. */
  private async readPackResults(runId: string, scheduledAt: string): Promise<BatchResult[]> {
    const prefix = runPacksPrefix(runId, scheduledAt);
    const packs = (await this.list(prefix)).filter(
      (item) => parsePackKey(item.key)?.runId === runId,
    );
    const results: BatchResult[] = [];
    await eachConcurrently(packs, async (item) => {
      const cached = this.cache.get(item.key);
      if (cached?.eTag === item.eTag) {
        results.push(cached.value as BatchResult);
        return;
      }
      const result = await this.readPackResult(item.key);
      if (!result) return;
      this.cache.set(item.key, { eTag: item.eTag, value: result });
      results.push(result);
    });
    return results;
  }

  private async readPackResult(key: string): Promise<BatchResult | undefined> {
    return (await this.readPackHeaderAt(key))?.result;
  }

  /** Pages a pack holds (its header's count), or undefined when it cannot be read. */
  async packEntries(key: string): Promise<number | undefined> {
    return (await this.readPackHeaderAt(key))?.entries;
  }

  /** A pack's header (its hop's outcomes), or undefined when it cannot be read. */
  async readPackHeaderAt(key: string): Promise<PackHeader | undefined> {
    let body: Readable;
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!out.Body) return undefined;
      body = out.Body as Readable;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    try {
      // Reads the first gzip member only and drops the rest of the stream.
      return await readPackHeader(body, PACK_HEADER_MAX_BYTES);
    } catch {
      body.destroy();
      return undefined; // Being written, or corrupt: the parser quarantines it; no outcomes here.
    }
  }

  private async readAll<S extends z.core.$ZodType>(
    prefix: string,
    schema: S,
  ): Promise<z.output<S>[]> {
    const listed = await this.list(prefix);
    const values: z.output<S>[] = [];
    await eachConcurrently(listed, async (item) => {
      const cached = this.cache.get(item.key);
      let value = cached?.eTag === item.eTag ? cached.value : undefined;
      if (value === undefined) {
        const text = await this.getText(item.key);
        if (text === undefined) return;
        const parsed = check(schema, jsonOrUndefined(text));
        if (!parsed.ok) return;
        value = parsed.value;
        this.cache.set(item.key, { eTag: item.eTag, value });
      }
      values.push(value as z.output<S>);
    });
    return values;
  }
}

function isLater(a: RunManifest, b: RunManifest): boolean {
  const scheduled = Date.parse(a.scheduledAt) - Date.parse(b.scheduledAt);
  if (scheduled !== 0) return scheduled > 0;
  const created = Date.parse(a.createdAt) - Date.parse(b.createdAt);
  if (created !== 0) return created > 0;
  return a.runId > b.runId;
}

/** JSON records a command writes to a bucket (replay's claims and log entry). */
export function bucketWriter(s3: S3Client, bucket: string) {
  const put = (key: string, value: unknown, ifAbsent: boolean) =>
    s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: JSON.stringify(value),
        ContentType: 'application/json',
        ...(ifAbsent ? { IfNoneMatch: '*' } : {}),
      }),
    );
  return {
    async putJson(key: string, value: unknown): Promise<void> {
      await put(key, value, false);
    },
    async putJsonIfAbsent(key: string, value: unknown): Promise<boolean> {
      try {
        await put(key, value, true);
        return true;
      } catch (error) {
        if (isS3KeyExists(error) || isS3ConditionalConflict(error)) return false;
        throw error;
      }
    },
  };
}

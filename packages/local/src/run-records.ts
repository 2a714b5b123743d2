import {
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
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
  type ParseOutcome,
  ParseOutcomeSchema,
  PREFIXES,
  parseOutcomesPrefix,
  type RunManifest,
  RunManifestSchema,
  type RunRecords,
  type RunStatus,
  runManifestKey,
} from '@fanout/shared';
import type { z } from 'zod';

/**
 * s3rver writes an object's file in place, so a GET that races a PUT of the same
 * key can return a truncated body. Such a read counts as "not there yet" (the
 * next poll sees the whole object), never as a crash of the reader.
 */
function jsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

interface Listed {
  key: string;
  eTag: string;
}

/**
 * Reads a run's records from S3 alone (so the same code answers for a local
 * bucket and a real one). Objects are cached by ETag: polling a large run
 * re-reads only what changed since the last look.
 */
export class RunRecordReader {
  private readonly cache = new Map<string, { eTag: string; value: unknown }>();

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async status(runId: string): Promise<RunStatus> {
    return computeRunStatus(runId, await this.records(runId));
  }

  async records(runId: string): Promise<RunRecords> {
    const [manifest, results, failures, parses] = await Promise.all([
      this.readManifest(runId),
      this.readAll(batchResultsPrefix(runId), BatchResultSchema),
      this.readAll(failuresPrefix(runId), BatchFailureSchema),
      this.readAll(parseOutcomesPrefix(runId), ParseOutcomeSchema),
    ]);
    return {
      manifest,
      results: results as BatchResult[],
      failures: failures as BatchFailure[],
      parses: parses as ParseOutcome[],
    };
  }

  async readManifest(runId: string): Promise<RunManifest | undefined> {
    const text = await this.getText(runManifestKey(runId));
    if (text === undefined) return undefined;
    const parsed = check(RunManifestSchema, jsonOrUndefined(text));
    return parsed.ok ? parsed.value : undefined;
  }

  /** Run ids in the bucket, newest first (scheduled run ids sort by time). */
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
        if (id && !id.startsWith('_')) ids.push(id);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return ids.sort().reverse();
  }

  async list(prefix: string): Promise<Listed[]> {
    const out: Listed[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const item of page.Contents ?? []) {
        if (item.Key) out.push({ key: item.Key, eTag: item.ETag ?? '' });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  private async readAll<S extends z.ZodType>(prefix: string, schema: S): Promise<z.output<S>[]> {
    const listed = await this.list(prefix);
    const values: z.output<S>[] = [];
    const queue = [...listed];
    const worker = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        const cached = this.cache.get(item.key);
        let value = cached?.eTag === item.eTag ? cached.value : undefined;
        if (value === undefined) {
          const text = await this.getText(item.key);
          if (text === undefined) continue;
          const parsed = check(schema, jsonOrUndefined(text));
          if (!parsed.ok) continue;
          value = parsed.value;
          this.cache.set(item.key, { eTag: item.eTag, value });
        }
        values.push(value as z.output<S>);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    return values;
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return out.Body ? await out.Body.transformToString('utf8') : undefined;
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') {
        return undefined;
      }
      throw error;
    }
  }
}

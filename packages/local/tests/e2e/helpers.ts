import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  type BatchResult,
  check,
  parsePackKey,
  parseRawKey,
  type RunRecords,
  readPack,
  type TaskOutcome,
} from '@fanout/shared';
import { z } from 'zod';
import { type Problem, problemsOf } from '../../src/commands/problems.js';
import { DEMO_COLLECTOR_TIMEOUT_SECONDS } from '../../src/commands/run.js';
import type { RunRecordReader } from '../../src/run-records.js';
import { type CycleResult, LocalSession, type SessionOptions } from '../../src/session.js';

/**
 * The collector timeout `fanout run` uses: short enough that the slow demo
 * source (which answers after a whole invocation) must finish through a
 * continuation. Shorter ones leave the collector's hard-deadline margin (8 %)
 * under a few hundred ms, which a loaded 2-core machine overruns: the
 * invocation is then killed and retried instead of continued.
 */
export const E2E_COLLECTOR_TIMEOUT_SECONDS = DEMO_COLLECTOR_TIMEOUT_SECONDS;
export const E2E_SLOW_DELAY_MS = E2E_COLLECTOR_TIMEOUT_SECONDS * 1000;
/** AWS waits 1 and 2 minutes between async retries; scaled to 60 and 120 ms. */
export const E2E_RETRY_DELAY_SCALE = 0.001;

export async function tempHome(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `fanout-e2e-${label}-`));
}

export async function removeHome(home: string | undefined): Promise<void> {
  if (home) await rm(home, { recursive: true, force: true });
}

/** A real HTTP server on 127.0.0.1 (a free port) for the sources of a test manifest. */
export async function startUpstream(
  handler: RequestListener,
): Promise<{ server: Server; origin: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function stopUpstream(server: Server | undefined): Promise<void> {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
}

/**
 * A local session on free ports with the e2e timing settings: the demo sources (none
 * generated unless `demo` says so) or, with `manifest`, that manifest instead; `settings`
 * for the functions' environment.
 */
export function startE2eSession(
  home: string,
  options: Pick<SessionOptions, 'demo' | 'manifest' | 'settings'> = {},
): Promise<LocalSession> {
  return LocalSession.start({
    home,
    s3Port: 0,
    lambdaPort: 0,
    functions: { collector: { timeoutSeconds: E2E_COLLECTOR_TIMEOUT_SECONDS } },
    retryDelayScale: E2E_RETRY_DELAY_SCALE,
    demo: { port: 0, count: 0 },
    ...options,
  });
}

/** Stops what a test started (whatever got started), and removes its home. */
export async function stopE2e(
  session: LocalSession | undefined,
  upstream: Server | undefined,
  home: string | undefined,
): Promise<void> {
  await session?.stop();
  await stopUpstream(upstream);
  await removeHome(home);
}

/** The demo's seeded generator, so a chaos run rolls the same dice each time. */
export { seededRandom as seeded } from '../../src/demo/random.js';

/** Every (source, outcome, result) triple across a run's batch results. */
export function allOutcomes(
  results: readonly BatchResult[],
): { outcome: TaskOutcome; result: BatchResult }[] {
  return results.flatMap((result) => result.outcomes.map((outcome) => ({ outcome, result })));
}

/** Source ids that appear with an outcome in more than one place. */
export function repeatedSources(results: readonly BatchResult[]): string[] {
  const seen = new Map<string, number>();
  for (const { outcome } of allOutcomes(results)) {
    seen.set(outcome.sourceId, (seen.get(outcome.sourceId) ?? 0) + 1);
  }
  return [...seen].filter(([, count]) => count > 1).map(([id]) => id);
}

export function plannedSourceIds(records: RunRecords): string[] {
  return records.manifest?.batches.flatMap((batch) => batch.sourceIds) ?? [];
}

export async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) return false;
    throw error;
  }
}

export async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
}

/** The envelope the parser writes around every record (the columns Athena reads). */
export const EnvelopeSchema = z.object({
  source: z.string(),
  run: z.string(),
  page: z.number().int().nonnegative(),
  fetchedAt: z.string(),
  /** A detail page's: its URL and the linking page's. */
  url: z.string().optional(),
  linkedFrom: z.string().optional(),
  record: z.unknown(),
});
export type Envelope = z.infer<typeof EnvelopeSchema>;

/** Gunzips a parsed object and validates each NDJSON line against the envelope. */
export async function readParsed(s3: S3Client, bucket: string, key: string): Promise<Envelope[]> {
  const text = gunzipSync(await getBytes(s3, bucket, key)).toString('utf8');
  const lines = text.split('\n').filter((line) => line.length > 0);
  return lines.map((line, index) => {
    const parsed = check(EnvelopeSchema, JSON.parse(line));
    if (!parsed.ok) throw new Error(`${key} line ${index + 1}: ${parsed.issues.join('; ')}`);
    return parsed.value;
  });
}

export async function listKeys(reader: RunRecordReader, prefix: string): Promise<string[]> {
  return (await reader.list(prefix)).map((item) => item.key);
}

/** Raw objects written for a run (packs and single responses), from a listing of raw/. */
export async function rawKeysOfRun(reader: RunRecordReader, runId: string): Promise<string[]> {
  return (await listKeys(reader, 'raw/')).filter(
    (key) => (parsePackKey(key) ?? parseRawKey(key))?.runId === runId,
  );
}

/** Parsed objects of a run: `parsed/dt=<date>/<run>~...`. */
export async function parsedKeysOfRun(reader: RunRecordReader, runId: string): Promise<string[]> {
  return (await listKeys(reader, 'parsed/')).filter((key) => key.includes(`/${runId}~`));
}

/** The source of each page stored in raw objects: a pack's entries, a single object's source. */
export async function sourcesInRawObjects(
  s3: S3Client,
  bucket: string,
  keys: readonly string[],
): Promise<string[]> {
  const sources: string[] = [];
  for (const key of keys) {
    const single = parseRawKey(key);
    if (single) {
      sources.push(single.sourceId);
      continue;
    }
    const bytes = await getBytes(s3, bucket, key);
    for await (const item of readPack(Readable.from([bytes]), { maxLineBytes: 64 << 20 })) {
      if (item.kind === 'entry' && item.entry) sources.push(item.entry.sourceId);
    }
  }
  return sources;
}

/** One cycle at `time`, and what a test reads of it. */
export interface CycleRead {
  readonly result: CycleResult;
  readonly records: RunRecords;
  /** What `fanout run` and `fanout status` list, reasons read from the quarantine reports. */
  readonly problems: Problem[];
  /** Every parsed record of the run, with its envelope. */
  readonly envelopes: Envelope[];
}

export async function cycleAndRead(session: LocalSession, time: Date): Promise<CycleRead> {
  const result = await session.cycle({ time, maxWaitMs: 120_000 });
  const records = await session.records.records(result.runId);
  const problems = (await problemsOf(result.runId, records, session.records)).all;
  const envelopes: Envelope[] = [];
  for (const key of await parsedKeysOfRun(session.records, result.runId)) {
    envelopes.push(...(await readParsed(session.cloud.s3, session.cloud.bucket, key)));
  }
  return { result, records, problems, envelopes };
}

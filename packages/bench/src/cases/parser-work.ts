import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  loadConfig,
  parseRawObject,
  parseStream,
  RECORD_HASH_HEX_DIGITS,
  writeRecordHash,
} from '@fanout/parser';
import {
  type PackHeader,
  packEntryLine,
  packHeaderLine,
  rawKey,
  rawPackKey,
  systemClock,
  toS3Metadata,
} from '@fanout/shared';
import { silentLog } from '../common.js';

export type InputFormat = 'ndjson' | 'csv';

export const FORMAT_OPTIONS: Record<InputFormat, Record<string, unknown>> = {
  ndjson: {},
  csv: { header: true, delimiter: ',' },
};

export const ENVELOPE = {
  sourceId: 'bench-source',
  runId: '20260601T0000Z',
  fetchedAt: '2026-06-01T00:00:05.000Z',
} as const;

/** Generated record n: mixed types and some text, about 130 bytes as NDJSON. */
function recordFields(n: number): [number, string, number, boolean, string] {
  return [
    n,
    `item-${n.toString(36)}`,
    ((n * 7919) % 100_000) / 100,
    n % 3 === 0,
    `note ${n % 997} of the benchmark input`,
  ];
}

/** Writes about `bytes` of input in `format` to `file`; returns the exact size. */
export async function writeInput(
  file: string,
  format: InputFormat,
  bytes: number,
): Promise<number> {
  const out = createWriteStream(file);
  let written = 0;
  let n = 0;
  if (format === 'csv') {
    const header = 'id,name,price,flag,note\n';
    out.write(header);
    written += header.length;
  }
  while (written < bytes) {
    let chunk = '';
    for (let i = 0; i < 2_000; i += 1, n += 1) {
      const [id, name, price, flag, note] = recordFields(n);
      chunk +=
        format === 'csv'
          ? `${id},${name},${price},${flag},"${note}"\n`
          : `${JSON.stringify({ id, name, price, flag, note, tags: ['a', 'b'] })}\n`;
    }
    written += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return written;
}

export interface WorkResult {
  readonly ms: number;
  /**
   * CPU time of this process during the work (user + system, every thread: zlib's thread
   * pool included), so a busy machine's waiting is told apart from the work's cost.
   */
  readonly cpuMs?: number;
  readonly bytesIn: number;
  readonly records: number;
  /** Gzip bytes written (parser core on a file only). */
  readonly bytesOut?: number;
  /** Peak resident set size of the process, bytes. */
  readonly maxRssBytes: number;
  readonly error?: string;
}

/**
 * Peak resident set size of this process image. On Linux `getrusage` (and so
 * `process.resourceUsage().maxRSS`) keeps the high-water mark from before
 * `exec`, when the forked child still had its parent's pages: it would report
 * the harness's RSS. `VmHWM` belongs to the current memory map only.
 */
function peakRss(): number {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
    if (kb !== undefined) return Number(kb) * 1024;
  } catch {
    // Not Linux: fall through.
  }
  return process.resourceUsage().maxRSS * 1024;
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** The parser core as the handler runs it: S3 GetObject -> parse -> gzip NDJSON multipart upload. */
export async function parseFromS3(key: string): Promise<WorkResult> {
  const config = loadConfig(process.env);
  const s3 = new S3Client({});
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await parseRawObject({ s3, log: silentLog, clock: systemClock, config }, key);
  const ms = performance.now() - started;
  const cpuMs = cpuMsSince(cpu);
  s3.destroy();
  if (result.status !== 'parsed') {
    return { ms, bytesIn: 0, records: 0, maxRssBytes: peakRss(), error: `object ${result.status}` };
  }
  return {
    ms,
    cpuMs,
    bytesIn: result.outcome.bytesIn,
    records: result.outcome.records,
    maxRssBytes: peakRss(),
  };
}

/** The parser core on a local file into a sink that only counts: the parser alone, without S3. */
export async function parseFromFile(file: string, format: InputFormat): Promise<WorkResult> {
  const defaults = loadConfig({ FANOUT_BUCKET: 'unused' });
  let outBytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      outBytes += chunk.length;
      callback();
    },
  });
  const cpu = process.cpuUsage();
  const started = performance.now();
  const stats = await parseStream(createReadStream(file), sink, {
    format,
    formatOptions: FORMAT_OPTIONS[format],
    envelope: ENVELOPE,
    limits: defaults,
    gzipLevel: defaults.gzipLevel,
  });
  return {
    ms: performance.now() - started,
    cpuMs: cpuMsSince(cpu),
    bytesIn: stats.bytesIn,
    records: stats.records,
    bytesOut: outBytes,
    maxRssBytes: peakRss(),
  };
}

/** Writes a record's 16 hex digits twice into `digits` (key and hash, as the writer does). */
type WriteDigits = (record: Uint8Array, digits: Buffer) => void;

/**
 * Record hashes to time: the parser's (the first 64 bits of a SHA-256, `crypto.hash`), and a
 * candidate it does not use, XXH64 from xxhash-wasm (one WebAssembly call per record, the
 * 64-bit digest as a BigInt), loaded and instantiated before the clock starts.
 */
const RECORD_HASHERS = {
  sha256: async (): Promise<WriteDigits> => (record, digits) =>
    writeRecordHash(record, digits, 0, RECORD_HASH_HEX_DIGITS),
  xxh64: async (): Promise<WriteDigits> => {
    const { default: xxhash } = await import('xxhash-wasm');
    const { h64Raw } = await xxhash();
    const hex = Buffer.from('0123456789abcdef', 'latin1');
    return (record, digits) => {
      const digest = h64Raw(record);
      // Two 32-bit halves, their digits written from a table as writeRecordHash writes its own.
      const halves = [Number(digest >> 32n), Number(digest & 0xffffffffn)];
      for (let half = 0; half < 2; half += 1) {
        const word = halves[half] ?? 0;
        for (let i = 0; i < 8; i += 1) {
          const digit = hex[(word >>> (28 - 4 * i)) & 0x0f] ?? 0;
          digits[8 * half + i] = digit;
          digits[RECORD_HASH_HEX_DIGITS + 8 * half + i] = digit;
        }
      }
    };
  },
} as const;

export type RecordHasher = keyof typeof RECORD_HASHERS;

export function isRecordHasher(value: string | undefined): value is RecordHasher {
  return value === 'sha256' || value === 'xxh64';
}

/**
 * The identity hash alone: `hasher` over every line of an NDJSON file already in memory, its
 * digits written twice as the writer writes them (key and hash). For `sha256`, what the hash
 * costs the parser at least, apart from the rest of the parse (`writeRecordHash` is what the
 * writer calls for each record when no key is declared); the file is read before the clock
 * starts.
 */
export async function hashRecords(file: string, hasher: RecordHasher): Promise<WorkResult> {
  const bytes = readFileSync(file);
  const digits = Buffer.alloc(2 * RECORD_HASH_HEX_DIGITS);
  const write = await RECORD_HASHERS[hasher]();
  let records = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let start = 0; start < bytes.length; ) {
    const newline = bytes.indexOf(0x0a, start);
    const end = newline === -1 ? bytes.length : newline;
    if (end > start) {
      write(new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start), digits);
      records += 1;
    }
    start = end + 1;
  }
  return {
    ms: performance.now() - started,
    cpuMs: cpuMsSince(cpu),
    bytesIn: bytes.length,
    records,
    maxRssBytes: peakRss(),
  };
}

function parseCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else cell += c;
  }
  cells.push(cell);
  return cells;
}

/**
 * The same work done the naive way: read the whole object into memory, parse
 * every record, build the whole output, gzip it in one go, PUT it. `progress`
 * reports bytes read so far, so a crash can say how far it got.
 */
export async function naiveFromS3(
  bucket: string,
  key: string,
  format: InputFormat,
  progress: (bytes: number) => void,
): Promise<WorkResult> {
  const s3 = new S3Client({});
  const started = performance.now();
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const chunks: Buffer[] = [];
  let bytes = 0;
  let reported = 0;
  for await (const chunk of response.Body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    bytes += chunk.length;
    if (bytes - reported >= 32 * 1024 * 1024) {
      reported = bytes;
      progress(bytes);
    }
  }
  progress(bytes);
  const text = Buffer.concat(chunks).toString('utf8');
  chunks.length = 0;
  const lines = text.split('\n').filter((line) => line.length > 0);
  let records: unknown[];
  if (format === 'csv') {
    const [head = '', ...rows] = lines;
    const columns = parseCsvLine(head);
    records = rows.map((row) => {
      const cells = parseCsvLine(row);
      return Object.fromEntries(columns.map((column, i) => [column, cells[i] ?? '']));
    });
  } else {
    records = lines.map((line) => JSON.parse(line) as unknown);
  }
  const output = records.map((record) => JSON.stringify({ ...ENVELOPE, record })).join('\n');
  const body = gzipSync(output, { level: 1 });
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: `parsed-naive/${key}.ndjson.gz`,
      Body: body,
      ContentEncoding: 'gzip',
    }),
  );
  const ms = performance.now() - started;
  s3.destroy();
  return { ms, bytesIn: bytes, records: records.length, maxRssBytes: peakRss() };
}

/** CPU and wall time of the parser core per small object, warm (deps built once). */
export interface PerObjectResult {
  readonly objects: number;
  readonly bytesPerObject: number;
  readonly cpuMsPerObject: number;
  readonly wallMsPerObject: number;
  readonly records: number;
}

/** A small raw object in `kind`: a single NDJSON or CSV response, or a pack of 4 entries. */
async function putSmallObject(
  s3: S3Client,
  bucket: string,
  kind: SmallObjectKind,
  index: number,
): Promise<{ key: string; bytes: number }> {
  const runId = ENVELOPE.runId;
  const scheduledAt = '2026-06-01T00:00:00.000Z';
  const rows = (format: InputFormat) => {
    let text = format === 'csv' ? 'id,name,price,flag,note\n' : '';
    for (let n = 0; n < 30; n += 1) {
      const [id, name, price, flag, note] = recordFields(n + index);
      text +=
        format === 'csv'
          ? `${id},${name},${price},${flag},"${note}"\n`
          : `${JSON.stringify({ id, name, price, flag, note, tags: ['a', 'b'] })}\n`;
    }
    return Buffer.from(text);
  };
  if (kind === 'pack') {
    const batchId = `b${String(index).padStart(5, '0')}`;
    const entries = Array.from({ length: 4 }, (_, page) => {
      const format: InputFormat = page % 2 === 0 ? 'ndjson' : 'csv';
      const body = rows(format);
      return packEntryLine(
        {
          sourceId: `${ENVELOPE.sourceId}-${page}`,
          page: 0,
          url: `https://example.test/${page}`,
          httpStatus: 200,
          fetchedAt: ENVELOPE.fetchedAt,
          sha256: createHash('sha256').update(body).digest('hex'),
          format,
          formatOptions: FORMAT_OPTIONS[format],
        },
        body,
      );
    });
    const header: PackHeader = {
      kind: 'fanout.pack',
      version: 1,
      runId,
      batchId,
      hop: 0,
      scheduledAt,
      entries: entries.length,
      result: { runId, batchId, hop: 0, outcomes: [], continued: [], writtenAt: scheduledAt },
    };
    const body = Buffer.concat([gzipSync(packHeaderLine(header)), gzipSync(entries.join(''))]);
    const key = rawPackKey({ runId, scheduledAt, batchId, hop: 0 });
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    return { key, bytes: body.length };
  }
  const body = rows(kind);
  const key = rawKey({
    sourceId: ENVELOPE.sourceId,
    scheduledAt,
    runId,
    page: index,
    extension: kind,
  });
  const metadata = toS3Metadata({
    runId,
    sourceId: ENVELOPE.sourceId,
    format: kind,
    formatOptions: FORMAT_OPTIONS[kind],
    fetchedAt: ENVELOPE.fetchedAt,
    scheduledAt,
    sha256: '0'.repeat(64),
    httpStatus: 200,
    page: index,
  });
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata }));
  return { key, bytes: body.length };
}

export type SmallObjectKind = InputFormat | 'pack';

/**
 * The per-object cost of a warm parser: the deps (S3 client, config, extractor registry) are
 * built once, as the handler builds them at module scope; `warm` objects are parsed first, then
 * `process.cpuUsage()` is read around `count` calls of `parseRawObject`, one object at a time.
 * The local S3 server runs in another process, so its CPU is not counted.
 */
export async function perObject(kind: SmallObjectKind, count: number): Promise<PerObjectResult> {
  const config = loadConfig(process.env);
  const s3 = new S3Client({});
  const deps = { s3, log: silentLog, clock: systemClock, config };
  const warm = 30;
  const keys: string[] = [];
  let bytes = 0;
  for (let i = 0; i < warm + count; i += 1) {
    const put = await putSmallObject(s3, config.bucket, kind, i);
    keys.push(put.key);
    if (i >= warm) bytes += put.bytes;
  }
  for (const key of keys.slice(0, warm)) await parseRawObject(deps, key);
  let records = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (const key of keys.slice(warm)) {
    const result = await parseRawObject(deps, key);
    if (result.status !== 'parsed') throw new Error(`${key}: ${result.status}`);
    records += result.outcome.records;
  }
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  s3.destroy();
  return {
    objects: count,
    bytesPerObject: bytes / count,
    cpuMsPerObject: (used.user + used.system) / 1000 / count,
    wallMsPerObject: wallMs / count,
    records,
  };
}

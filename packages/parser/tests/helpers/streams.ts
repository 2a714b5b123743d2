import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import type { FormatOptions } from '@fanout/shared';
import {
  createExtractorRegistry,
  type Extractor,
  type ExtractorContext,
  RawJson,
  RawJsonSpans,
  RecordBatch,
} from '../../src/index.js';

export const TEST_LIMITS = { maxRawBytes: 1024 * 1024 * 1024, maxRecordBytes: 64 * 1024 };

/** A stream of `text` in chunks of `chunkBytes` (small chunks exercise records split across reads). */
export function chunked(text: string | Buffer, chunkBytes = 7): Readable {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const chunks: Buffer[] = [];
  for (let start = 0; start < bytes.length; start += chunkBytes) {
    chunks.push(bytes.subarray(start, start + chunkBytes));
  }
  return Readable.from(chunks);
}

export function contextFor(
  format: string,
  options: FormatOptions = {},
  maxRecordBytes = TEST_LIMITS.maxRecordBytes,
): ExtractorContext {
  return { format, options, maxRecordBytes, bytesRead: () => 0 };
}

/** Runs an extractor over `text` and collects its records (fine for small test inputs). */
export async function extract(
  format: string,
  text: string | Buffer,
  options: FormatOptions = {},
  { chunkBytes = 7, maxRecordBytes = TEST_LIMITS.maxRecordBytes } = {},
): Promise<unknown[]> {
  const extractor: Extractor = createExtractorRegistry().get(format);
  const records: unknown[] = [];
  for await (const record of extractor(
    chunked(text, chunkBytes),
    contextFor(format, options, maxRecordBytes),
  )) {
    if (record instanceof RecordBatch) {
      records.push(...record.records);
    } else if (record instanceof RawJsonSpans) {
      record.starts.forEach((start, i) => {
        records.push(JSON.parse(record.bytes.toString('utf8', start, record.ends[i])));
      });
    } else {
      records.push(record instanceof RawJson ? JSON.parse(record.text) : record);
    }
  }
  return records;
}

/** Runs an extractor that yields raw JSON and returns each record's text exactly as written. */
export async function extractTexts(
  format: string,
  text: string | Buffer,
  options: FormatOptions = {},
  { chunkBytes = 7 } = {},
): Promise<string[]> {
  const extractor: Extractor = createExtractorRegistry().get(format);
  const texts: string[] = [];
  for await (const record of extractor(chunked(text, chunkBytes), contextFor(format, options))) {
    if (!(record instanceof RawJsonSpans)) throw new Error(`${format} yielded a ${typeof record}`);
    record.starts.forEach((start, i) => {
      texts.push(record.bytes.toString('utf8', start, record.ends[i]));
    });
  }
  return texts;
}

/** Runs an extractor expecting it to fail; returns the error. */
export async function extractError(
  format: string,
  text: string | Buffer,
  options: FormatOptions = {},
  settings: { chunkBytes?: number; maxRecordBytes?: number } = {},
): Promise<Error> {
  try {
    await extract(format, text, options, settings);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`expected ${format} extraction to fail`);
}

/** A Writable that keeps what it is given. */
export function memorySink(): { stream: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      parts.push(chunk);
      callback();
    },
  });
  return { stream, bytes: () => Buffer.concat(parts) };
}

/**
 * The `hash` of a parsed line, computed again from the line as stored: the first 16 hex digits
 * of the SHA-256 of the bytes after `"record":` up to the line's closing `}`.
 */
export function hashOfLine(line: string): string {
  const record = line.slice(line.indexOf('"record":') + '"record":'.length, -1);
  return createHash('sha256').update(record, 'utf8').digest('hex').slice(0, 16);
}

/**
 * gzip NDJSON -> parsed lines. Every line's `hash` is checked against its record's bytes and
 * left out, and so is its `key` when it is that hash (no key declared), so tests compare the
 * envelope and the record.
 */
export function gunzipLines(bytes: Buffer): unknown[] {
  const text = gunzipSync(bytes).toString('utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const { key, hash, ...rest } = JSON.parse(line) as Record<string, unknown>;
      if (hash !== hashOfLine(line)) {
        throw new Error(`hash ${String(hash)} is not the record's (${hashOfLine(line)}): ${line}`);
      }
      return key === hash ? rest : { ...rest, key };
    });
}

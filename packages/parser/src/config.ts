import { ENV } from '@fanout/shared';
import { ParserConfigError } from './errors.js';

/** S3 multipart uploads need parts of at least 5 MiB (except the last). */
export const S3_MIN_PART_BYTES = 5 * 1024 * 1024;

/** Names of the parser's own settings (besides the shared ones in `ENV`). */
export const PARSER_ENV = {
  maxRawBytes: 'FANOUT_MAX_RAW_BYTES',
  maxRecordBytes: 'FANOUT_MAX_RECORD_BYTES',
  maxPackLineBytes: 'FANOUT_MAX_PACK_LINE_BYTES',
  gzipLevel: 'FANOUT_GZIP_LEVEL',
  uploadPartBytes: 'FANOUT_UPLOAD_PART_BYTES',
  uploadQueueSize: 'FANOUT_UPLOAD_QUEUE_SIZE',
} as const;

export interface ParserLimits {
  /** Raw objects larger than this are quarantined without being parsed. */
  readonly maxRawBytes: number;
  /** A single line or record larger than this quarantines the object. */
  readonly maxRecordBytes: number;
}

export interface OutputSettings {
  /** zlib level 0-9 for the parsed output. */
  readonly gzipLevel: number;
  /** Multipart part size for the output upload. */
  readonly uploadPartBytes: number;
  /** Parts uploaded at once; memory held by the upload is about partBytes * (queueSize + 1). */
  readonly uploadQueueSize: number;
}

export interface ParserConfig extends ParserLimits, OutputSettings {
  readonly bucket: string;
  /** A pack line (one entry: its metadata and whole body) longer than this makes the pack unreadable. */
  readonly maxPackLineBytes: number;
}

export const DEFAULTS = {
  // 2 GiB: a 1 GB object must parse; bigger ones would not finish inside the timeout.
  maxRawBytes: 2 * 1024 * 1024 * 1024,
  maxRecordBytes: 4 * 1024 * 1024,
  // A pack is read one line at a time and one line is one whole entry, body included, so
  // this is the memory bound of reading a pack (the line, its parsed entry and the body's
  // bytes are held at once: about 3x). Collectors pack small responses only and store large
  // ones as single objects; 16 MiB leaves room for JSON escaping and base64 (4/3) of a
  // packed body while three copies stay well inside a 256 MB function.
  maxPackLineBytes: 16 * 1024 * 1024,
  // Level 1 costs about half the CPU of level 6 for output ~10% larger; CPU is
  // scarce at 256 MB (a fraction of a vCPU) and a 1 GB object must finish in time.
  gzipLevel: 1,
  // S3's minimum part: a multipart upload holds part x (queue + 1) bytes, and at 8 MiB that
  // kept a 1 GB parse above 128 MB of RSS (133 MB, against 116 MB at 5 MiB, same MB/s).
  uploadPartBytes: S3_MIN_PART_BYTES,
  uploadQueueSize: 2,
} as const satisfies Omit<ParserConfig, 'bucket'>;

type Env = Readonly<Record<string, string | undefined>>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ParserConfigError(
      name,
      `must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

/** Reads and validates the parser's settings; the handler calls it once at module scope. */
export function loadConfig(env: Env = process.env): ParserConfig {
  const bucket = env[ENV.bucket];
  if (bucket === undefined || bucket.trim() === '') {
    throw new ParserConfigError(ENV.bucket, 'is required (the bucket holding raw/ and parsed/)');
  }
  return {
    bucket,
    maxRawBytes: integer(
      env,
      PARSER_ENV.maxRawBytes,
      DEFAULTS.maxRawBytes,
      1,
      Number.MAX_SAFE_INTEGER,
    ),
    maxRecordBytes: integer(
      env,
      PARSER_ENV.maxRecordBytes,
      DEFAULTS.maxRecordBytes,
      64,
      512 * 1024 * 1024,
    ),
    maxPackLineBytes: integer(
      env,
      PARSER_ENV.maxPackLineBytes,
      DEFAULTS.maxPackLineBytes,
      1024,
      512 * 1024 * 1024,
    ),
    gzipLevel: integer(env, PARSER_ENV.gzipLevel, DEFAULTS.gzipLevel, 0, 9),
    uploadPartBytes: integer(
      env,
      PARSER_ENV.uploadPartBytes,
      DEFAULTS.uploadPartBytes,
      S3_MIN_PART_BYTES,
      5 * 1024 * 1024 * 1024,
    ),
    uploadQueueSize: integer(env, PARSER_ENV.uploadQueueSize, DEFAULTS.uploadQueueSize, 1, 16),
  };
}

import { createHash } from 'node:crypto';

/** S3 accepts object keys up to 1,024 bytes of UTF-8. */
export const MAX_KEY_BYTES = 1024;

/**
 * A key segment is stored under its own name up to this many bytes. s3rver adds
 * up to 22 bytes of suffix (`._S3rver_metadata.json`) and a write adds 21 more
 * (`.<12 hex>.partial`); file names may not exceed 255 bytes.
 */
export const MAX_PLAIN_SEGMENT_BYTES = 200;

/** Bytes of a long segment kept readable in its stored name. */
const KEPT_PREFIX_BYTES = 140;

function utf8Prefix(text: string, maxBytes: number): string {
  let bytes = 0;
  let kept = '';
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > maxBytes) break;
    bytes += size;
    kept += char;
  }
  return kept;
}

/**
 * The directory or file name a key segment is stored under: itself when short,
 * else a readable prefix, `~` and the SHA-256 of the whole segment. A stored
 * long name is always longer than MAX_PLAIN_SEGMENT_BYTES (137 to 140 bytes of
 * prefix + 65), so it can never be mistaken for a short segment stored as is.
 */
export function storedSegment(segment: string): string {
  if (Buffer.byteLength(segment) <= MAX_PLAIN_SEGMENT_BYTES) return segment;
  const digest = createHash('sha256').update(segment).digest('hex');
  return `${utf8Prefix(segment, KEPT_PREFIX_BYTES)}~${digest}`;
}

/** True for a name `storedSegment` made from a long segment: the key must be read from the metadata. */
export function isHashedSegment(name: string): boolean {
  return Buffer.byteLength(name) > MAX_PLAIN_SEGMENT_BYTES;
}

/** Compares keys as S3 orders them: by UTF-8 bytes. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

import { createHash } from 'node:crypto';

/** S3 accepts object keys up to 1,024 bytes of UTF-8. */
export const MAX_KEY_BYTES = 1024;

/**
 * A key segment is stored under its own name up to this many bytes. The store adds
 * up to 22 bytes of suffix (`._S3rver_metadata.json`) and a write adds 21 more
 * (`.<12 hex>.partial`); file names may not exceed 255 bytes.
 */
export const MAX_PLAIN_SEGMENT_BYTES = 200;

/** Bytes of a long segment kept readable in its stored name. */
const KEPT_PREFIX_BYTES = 140;

/** Marks a stored name that is not the segment itself (see storedSegment). */
const ESCAPE = '~';

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
 * The file or folder name a key segment is stored under. Keys are opaque in S3, so no
 * segment may be interpreted by the file system: the empty segment (`a//b`, a leading
 * `/`), `.` and `..` are stored as `~`, `~.` and `~..`, and a segment that starts with
 * `~` gets one more, so the mapping stays one to one and no key can name a path
 * outside its bucket folder. Over MAX_PLAIN_SEGMENT_BYTES: a readable prefix, `~` and
 * the SHA-256 of the whole segment (always longer than the limit, so it cannot be
 * mistaken for a short one; the key is then read from the metadata).
 */
export function storedSegment(segment: string): string {
  const escaped =
    segment === '' || segment === '.' || segment === '..' || segment.startsWith(ESCAPE)
      ? `${ESCAPE}${segment}`
      : segment;
  if (Buffer.byteLength(escaped) <= MAX_PLAIN_SEGMENT_BYTES) return escaped;
  const digest = createHash('sha256').update(segment).digest('hex');
  return `${utf8Prefix(escaped, KEPT_PREFIX_BYTES)}~${digest}`;
}

/** The segment a short stored name stands for (the inverse of storedSegment). */
export function segmentOf(stored: string): string {
  return stored.startsWith(ESCAPE) ? stored.slice(ESCAPE.length) : stored;
}

/** True for a name storedSegment made from a long segment: the key must be read from the metadata. */
export function isHashedSegment(name: string): boolean {
  return Buffer.byteLength(name) > MAX_PLAIN_SEGMENT_BYTES;
}

/** The stored names of a key's segments, in order. */
export function storedSegments(key: string): string[] {
  return key.split('/').map(storedSegment);
}

/** Compares keys as S3 orders them: by UTF-8 bytes. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** S3's bucket naming rules (general purpose buckets). */
export function isValidBucketName(name: string): boolean {
  return (
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) &&
    !name.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name)
  );
}

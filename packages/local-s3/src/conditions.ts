import { noSuchKey, notImplemented, preconditionFailed, S3Error } from './errors.js';
import type { ObjectRecord } from './object-store.js';

/**
 * S3's conditional requests (RFC 9110 section 13, as the GetObject, HeadObject,
 * CopyObject and PutObject references state them). Dates compare at second precision,
 * as Last-Modified is sent.
 */
type Headers = (name: string) => string | undefined;

function etagMatches(condition: string, etag: string): boolean {
  return condition
    .split(',')
    .map((part) => part.trim().replace(/^W\//, '').replace(/^"|"$/g, ''))
    .some((candidate) => candidate === '*' || candidate === etag);
}

function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

function parseDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : Math.floor(time / 1000);
}

interface Evaluated {
  readonly ifMatch?: boolean;
  readonly ifUnmodifiedSince?: boolean;
  readonly ifNoneMatch?: boolean;
  readonly ifModifiedSince?: boolean;
}

function evaluate(record: ObjectRecord, header: Headers, prefix: string): Evaluated {
  const ifMatch = header(`${prefix}if-match`);
  const ifNoneMatch = header(`${prefix}if-none-match`);
  const unmodified = parseDate(header(`${prefix}if-unmodified-since`));
  const modified = parseDate(header(`${prefix}if-modified-since`));
  const changed = seconds(record.lastModified);
  return {
    ...(ifMatch !== undefined ? { ifMatch: etagMatches(ifMatch, record.etag) } : {}),
    ...(ifNoneMatch !== undefined ? { ifNoneMatch: !etagMatches(ifNoneMatch, record.etag) } : {}),
    ...(unmodified !== undefined ? { ifUnmodifiedSince: changed <= unmodified } : {}),
    ...(modified !== undefined ? { ifModifiedSince: changed > modified } : {}),
  };
}

/** GET and HEAD: 412 or 304 as S3 answers, else nothing. */
export function checkReadConditions(record: ObjectRecord, header: Headers): 304 | 412 | undefined {
  const c = evaluate(record, header, '');
  if (c.ifMatch === false) return 412;
  if (c.ifMatch === undefined && c.ifUnmodifiedSince === false) return 412;
  if (c.ifNoneMatch === false) return 304;
  if (c.ifNoneMatch === undefined && c.ifModifiedSince === false) return 304;
  return undefined;
}

/** CopyObject and UploadPartCopy: the `x-amz-copy-source-if-*` headers; a failed one is 412. */
export function checkCopySourceConditions(record: ObjectRecord, header: Headers): void {
  const c = evaluate(record, header, 'x-amz-copy-source-');
  const fails =
    c.ifMatch === false ||
    (c.ifMatch === undefined && c.ifUnmodifiedSince === false) ||
    c.ifNoneMatch === false ||
    (c.ifNoneMatch === undefined && c.ifModifiedSince === false);
  if (fails) throw preconditionFailed('x-amz-copy-source-If-*');
}

/**
 * PutObject, CopyObject and CompleteMultipartUpload: `If-None-Match: *` (write only a
 * new key) and `If-Match: <etag>` (write only over that version), checked at the commit.
 */
export function writePrecondition(
  header: Headers,
  key: string,
): ((existing: ObjectRecord | undefined) => void) | undefined {
  const ifNoneMatch = header('if-none-match');
  const ifMatch = header('if-match');
  if (ifNoneMatch === undefined && ifMatch === undefined) return undefined;
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
    throw notImplemented(`If-None-Match with a value other than * on a write`);
  }
  return (existing) => {
    if (ifNoneMatch !== undefined && existing) throw preconditionFailed('If-None-Match');
    if (ifMatch !== undefined) {
      if (!existing) throw noSuchKey(key);
      if (!etagMatches(ifMatch, existing.etag)) throw preconditionFailed('If-Match');
    }
  };
}

/** A byte range of an object, inclusive. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * `Range: bytes=a-b | a- | -n` against an object of `size` bytes. Undefined when the
 * header is absent or not a single byte range (S3 then sends the whole object);
 * 416 InvalidRange when it cannot be satisfied.
 */
export function parseRange(value: string | undefined, size: number): ByteRange | undefined {
  if (value === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!match) return undefined;
  const [, from = '', to = ''] = match;
  if (from === '' && to === '') return undefined;
  const unsatisfiable = () =>
    new S3Error(
      416,
      'InvalidRange',
      'The requested range is not satisfiable',
      {
        RangeRequested: value,
        ActualObjectSize: size,
      },
      { 'content-range': `bytes */${size}` },
    );
  if (from === '') {
    const last = Number(to);
    if (last === 0 || size === 0) throw unsatisfiable();
    return { start: Math.max(0, size - last), end: size - 1 };
  }
  const start = Number(from);
  const end = to === '' ? size - 1 : Math.min(Number(to), size - 1);
  if (to !== '' && Number(to) < start) return undefined;
  if (start >= size) throw unsatisfiable();
  return { start, end };
}

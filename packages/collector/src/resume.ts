import type { Resume } from '@fanout/shared';

type Headers = Readonly<Record<string, string>>;

/** At least this long before the response's Date, a Last-Modified counts as strong (RFC 9110 8.8.2.2). */
const STRONG_DATE_GAP_MS = 60_000;

/**
 * What `If-Range` may carry to resume this response's body, or undefined when it
 * cannot be resumed safely (RFC 9110 13.1.5): a strong ETag; else, with no ETag at all,
 * a Last-Modified at least 60 s before the response's Date. Never a weak ETag, and
 * nothing for a body that was decoded (the range would be of the encoded bytes) or a
 * server that says `Accept-Ranges: none`.
 */
export function resumeValidator(
  headers: Headers,
  decodedFrom: string | undefined,
): string | undefined {
  if (decodedFrom !== undefined) return undefined;
  if (headers['accept-ranges']?.trim().toLowerCase() === 'none') return undefined;
  const etag = headers.etag?.trim();
  if (etag !== undefined && etag !== '') {
    return etag.startsWith('"') ? etag : undefined;
  }
  const lastModified = headers['last-modified'];
  const date = headers.date;
  if (lastModified === undefined || date === undefined) return undefined;
  const modifiedAt = Date.parse(lastModified);
  const sentAt = Date.parse(date);
  if (Number.isNaN(modifiedAt) || Number.isNaN(sentAt)) return undefined;
  return sentAt - modifiedAt >= STRONG_DATE_GAP_MS ? lastModified : undefined;
}

/** The headers of a request for the bytes after the stored ones, if still the same body. */
export function rangeHeaders(resume: Resume): Headers {
  return {
    range: `bytes=${resume.bytes}-`,
    'if-range': resume.validator,
    // The stored bytes are of the identity body; a range of an encoded one would not fit.
    'accept-encoding': 'identity',
  };
}

/** The first byte of `Content-Range: bytes 42-1233/1234`, or undefined. */
export function contentRangeStart(header: string | undefined): number | undefined {
  const match =
    header === undefined ? null : /^bytes\s+(\d+)-\d+\/(?:\d+|\*)$/i.exec(header.trim());
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** The full length of a 200's body (Content-Length) when it is not encoded. */
export function totalBytesOf(headers: Headers): number | undefined {
  if (headers['content-encoding'] !== undefined) return undefined;
  const length = headers['content-length'];
  if (length === undefined || !/^\d+$/.test(length)) return undefined;
  return Number(length);
}

/** Whole bytes per second; 0 when no time passed. */
export function bytesPerSecond(bytes: number, ms: number): number {
  return ms > 0 ? Math.round((bytes * 1000) / ms) : 0;
}

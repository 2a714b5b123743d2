/**
 * S3 request classes, as S3 bills them: PUT, COPY, POST and LIST share the
 * higher tier; GET and HEAD (and the rest) the lower one; DELETE is free.
 */
export const S3_OPERATIONS = ['PUT', 'COPY', 'POST', 'LIST', 'GET', 'HEAD', 'DELETE'] as const;
export type S3Operation = (typeof S3_OPERATIONS)[number] | 'OTHER';

export interface ClassifiedRequest {
  readonly operation: S3Operation;
  readonly bucket?: string;
  /** Decoded object key; absent for bucket and service requests. */
  readonly key?: string;
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Classifies a path-style S3 request (the only style an IP endpoint gets). */
export function classifyS3Request(
  method: string,
  url: string,
  headers: Record<string, string | string[] | undefined>,
): ClassifiedRequest {
  // The path as sent: S3 keys are opaque, so `..` and `//` are not normalised away.
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const rawQuery = q === -1 ? '' : url.slice(q + 1);
  const path = rawPath.replace(/^\//, '');
  const slash = path.indexOf('/');
  const bucket = decodePathSegment(slash === -1 ? path : path.slice(0, slash));
  const key = slash === -1 ? '' : decodePathSegment(path.slice(slash + 1));
  const query = new URLSearchParams(rawQuery);
  const base = {
    ...(bucket ? { bucket } : {}),
    ...(key ? { key } : {}),
  };
  const upper = method.toUpperCase();
  switch (upper) {
    case 'GET':
      return { ...base, operation: key ? 'GET' : 'LIST' };
    case 'HEAD':
      return { ...base, operation: 'HEAD' };
    case 'DELETE':
      return { ...base, operation: 'DELETE' };
    case 'PUT':
      return {
        ...base,
        operation: key && headers['x-amz-copy-source'] !== undefined ? 'COPY' : 'PUT',
      };
    case 'POST':
      if (!key && query.has('delete')) return { ...base, operation: 'DELETE' };
      return { ...base, operation: 'POST' };
    default:
      return { ...base, operation: 'OTHER' };
  }
}

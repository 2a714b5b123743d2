import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { S3Error } from './errors.js';

/**
 * AWS Signature Version 4 as S3 checks it ("Authenticating Requests (AWS Signature
 * Version 4)" in the S3 API reference): the Authorization header or a presigned URL's
 * query, the canonical request rebuilt from what arrived, the signature recomputed
 * with the secret of the access key and compared. What the payload must then be is
 * returned for the body's reader (hash, unsigned, or aws-chunked with chunk signatures).
 */
export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export type PayloadMode =
  | { readonly kind: 'unsigned' }
  | { readonly kind: 'sha256'; readonly hex: string }
  | {
      readonly kind: 'chunked';
      /** Chunk signatures to verify (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]). */
      readonly signing?: ChunkSigning;
      readonly trailer: boolean;
    };

export interface ChunkSigning {
  readonly key: Buffer;
  readonly amzDate: string;
  readonly scope: string;
  readonly seedSignature: string;
}

export interface Authenticated {
  readonly accessKeyId: string;
  /** The region of the signature's scope. */
  readonly region: string;
  readonly payload: PayloadMode;
}

/** S3 refuses a request whose date is further than this from its clock. */
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
const ALGORITHM = 'AWS4-HMAC-SHA256';
const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

const accessDenied = () => new S3Error(403, 'AccessDenied', 'Access Denied');
const signatureMismatch = () =>
  new S3Error(
    403,
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  );
const invalidRequest = (message: string) => new S3Error(400, 'InvalidRequest', message);

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** RFC 3986 encoding as SigV4 canonicalises: everything but unreserved characters. */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function decodeLoose(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The path as the client signed it: each segment decoded and encoded again, once (S3 does not normalise). */
function canonicalPath(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => uriEncode(decodeLoose(segment)))
    .join('/');
}

function canonicalQuery(rawQuery: string, omit?: string): string {
  const pairs = rawQuery
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      const name = decodeLoose(eq === -1 ? part : part.slice(0, eq));
      const value = eq === -1 ? '' : decodeLoose(part.slice(eq + 1));
      return [uriEncode(name), uriEncode(value)] as const;
    })
    .filter(([name]) => name !== omit);
  pairs.sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : x > y ? 1 : 0) : a < b ? -1 : 1));
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

function canonicalHeaders(req: IncomingMessage, signed: readonly string[]): string {
  return signed
    .map((name) => {
      const values = req.headersDistinct[name];
      if (values === undefined) throw signatureMismatch();
      return `${name}:${values.map((v) => v.trim().replace(/\s+/g, ' ')).join(',')}\n`;
    })
    .join('');
}

export function signingKey(secret: string, day: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request');
}

function sameSignature(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

interface Parts {
  readonly accessKeyId: string;
  readonly day: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  readonly amzDate: string;
  readonly payloadHash: string;
  readonly presigned: boolean;
  readonly expiresSeconds?: number;
}

function fromHeader(req: IncomingMessage, authorization: string): Parts {
  if (!authorization.startsWith(`${ALGORITHM} `)) {
    throw invalidRequest(
      'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    );
  }
  const fields = Object.fromEntries(
    authorization
      .slice(ALGORITHM.length + 1)
      .split(',')
      .map((part) => part.trim().split('=', 2) as [string, string]),
  );
  const credential = String(fields.Credential ?? '').split('/');
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const payloadHash = req.headers['x-amz-content-sha256'];
  if (typeof payloadHash !== 'string') {
    throw invalidRequest('Missing required header for this request: x-amz-content-sha256');
  }
  return {
    accessKeyId: credential[0] ?? '',
    day: credential[1] ?? '',
    region: credential[2] ?? '',
    service: credential[3] ?? '',
    signedHeaders: String(fields.SignedHeaders ?? '').split(';'),
    signature: String(fields.Signature ?? ''),
    amzDate,
    payloadHash,
    presigned: false,
  };
}

function fromQuery(query: URLSearchParams): Parts {
  if (query.get('X-Amz-Algorithm') !== ALGORITHM) {
    throw invalidRequest('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  }
  const credential = (query.get('X-Amz-Credential') ?? '').split('/');
  return {
    accessKeyId: credential[0] ?? '',
    day: credential[1] ?? '',
    region: credential[2] ?? '',
    service: credential[3] ?? '',
    signedHeaders: (query.get('X-Amz-SignedHeaders') ?? '').split(';'),
    signature: query.get('X-Amz-Signature') ?? '',
    amzDate: query.get('X-Amz-Date') ?? '',
    payloadHash: 'UNSIGNED-PAYLOAD',
    presigned: true,
    expiresSeconds: Number(query.get('X-Amz-Expires') ?? 'NaN'),
  };
}

function parseAmzDate(value: string): number {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return Number.NaN;
  const [, y, mo, d, h, mi, s] = match;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
}

function payloadMode(parts: Parts, key: Buffer, scope: string): PayloadMode {
  const hash = parts.payloadHash;
  if (hash === 'UNSIGNED-PAYLOAD') return { kind: 'unsigned' };
  if (/^[0-9a-f]{64}$/.test(hash)) return { kind: 'sha256', hex: hash };
  const signing = { key, amzDate: parts.amzDate, scope, seedSignature: parts.signature };
  switch (hash) {
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      return { kind: 'chunked', trailer: true };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
      return { kind: 'chunked', signing, trailer: false };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      return { kind: 'chunked', signing, trailer: true };
    default:
      throw new S3Error(
        400,
        'InvalidArgument',
        `x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] or a SHA-256 hex digest`,
        { ArgumentName: 'x-amz-content-sha256', ArgumentValue: hash },
      );
  }
}

/**
 * Checks the request's signature against `credentials`; throws S3's error otherwise
 * (AccessDenied for an anonymous request: every bucket here is private).
 */
export function authenticate(
  req: IncomingMessage,
  rawPath: string,
  rawQuery: string,
  credentials: readonly Credentials[],
  now = Date.now(),
): Authenticated {
  const query = new URLSearchParams(rawQuery);
  const authorization = req.headers.authorization;
  let parts: Parts;
  if (typeof authorization === 'string') parts = fromHeader(req, authorization);
  else if (query.has('X-Amz-Signature')) parts = fromQuery(query);
  else if (query.has('AWSAccessKeyId') && query.has('Signature')) {
    // As S3 answers for buckets made since 2020: Signature Version 2 is refused.
    throw invalidRequest(
      'Signature Version 2 is not supported; sign with AWS4-HMAC-SHA256 (AWS CLI v1: set s3.signature_version = s3v4)',
    );
  } else throw accessDenied();

  const account = credentials.find((c) => c.accessKeyId === parts.accessKeyId);
  if (!account) {
    throw new S3Error(
      403,
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
      {
        AWSAccessKeyId: parts.accessKeyId,
      },
    );
  }
  if (parts.service !== 's3' || !/^\d{8}$/.test(parts.day) || !parts.region) {
    throw new S3Error(
      400,
      'AuthorizationHeaderMalformed',
      'The authorization header is malformed; the Credential is mal-formed.',
    );
  }
  const signedAt = parseAmzDate(parts.amzDate);
  if (!Number.isFinite(signedAt)) throw accessDenied();
  if (parts.presigned) {
    const expires = parts.expiresSeconds ?? Number.NaN;
    if (!Number.isInteger(expires) || expires < 1 || expires > 604_800) {
      throw invalidRequest('X-Amz-Expires must be between 1 and 604800 seconds');
    }
    if (now > signedAt + expires * 1000)
      throw new S3Error(403, 'AccessDenied', 'Request has expired');
  } else if (Math.abs(now - signedAt) > MAX_CLOCK_SKEW_MS) {
    throw new S3Error(
      403,
      'RequestTimeTooSkewed',
      'The difference between the request time and the current time is too large.',
    );
  }
  if (!parts.signedHeaders.includes('host')) throw signatureMismatch();

  const canonical = [
    req.method ?? 'GET',
    canonicalPath(rawPath),
    canonicalQuery(rawQuery, parts.presigned ? 'X-Amz-Signature' : undefined),
    canonicalHeaders(req, parts.signedHeaders),
    parts.signedHeaders.join(';'),
    parts.payloadHash,
  ].join('\n');
  const scope = `${parts.day}/${parts.region}/${parts.service}/aws4_request`;
  const stringToSign = [ALGORITHM, parts.amzDate, scope, sha256Hex(canonical)].join('\n');
  const key = signingKey(account.secretAccessKey, parts.day, parts.region, parts.service);
  const expected = createHmac('sha256', key).update(stringToSign).digest('hex');
  if (!sameSignature(expected, parts.signature)) throw signatureMismatch();
  return {
    accessKeyId: account.accessKeyId,
    region: parts.region,
    payload: payloadMode(parts, key, scope),
  };
}

/** The signature a chunk of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body must carry. */
export function chunkSignature(
  signing: ChunkSigning,
  previous: string,
  chunkSha256Hex: string,
): string {
  const stringToSign = [
    'AWS4-HMAC-SHA256-PAYLOAD',
    signing.amzDate,
    signing.scope,
    previous,
    EMPTY_SHA256,
    chunkSha256Hex,
  ].join('\n');
  return createHmac('sha256', signing.key).update(stringToSign).digest('hex');
}

/** The signature of the trailer of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER body. */
export function trailerSignature(signing: ChunkSigning, previous: string, trailer: string): string {
  const stringToSign = [
    'AWS4-HMAC-SHA256-TRAILER',
    signing.amzDate,
    signing.scope,
    previous,
    sha256Hex(trailer),
  ].join('\n');
  return createHmac('sha256', signing.key).update(stringToSign).digest('hex');
}

export { sameSignature };

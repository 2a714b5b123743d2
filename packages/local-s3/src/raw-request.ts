import { createHash, createHmac } from 'node:crypto';
import { request } from 'node:http';
import type { Credentials } from './auth.js';

/**
 * A raw HTTP request to an S3 endpoint, sent exactly as given (no path normalisation,
 * any header), SigV4-signed when asked. For tests and tools that must send what an
 * SDK would refuse to: malformed XML, odd headers, hand-made aws-chunked bodies. The
 * signing follows the AWS documentation ("Create a signed AWS API request") and shares
 * no code with the server's check of signatures.
 */
export interface RawRequest {
  readonly method: string;
  /** Path and query exactly as sent (already encoded). */
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | string;
  /** Sign with these (SigV4, service s3); absent: unsigned. */
  readonly sign?: Credentials;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function encodeQueryPart(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * SigV4 for a raw request, written from the AWS documentation ("Create a signed AWS API
 * request") so raw cases can send what the SDK would refuse to (malformed XML, odd headers).
 */
function signRequest(
  input: {
    method: string;
    host: string;
    path: string;
    headers: Record<string, string>;
    body: Buffer;
  },
  credentials: Credentials,
  region: string,
  now = new Date(),
): Record<string, string> {
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    ...Object.fromEntries(Object.entries(input.headers).map(([k, v]) => [k.toLowerCase(), v])),
    host: input.host,
    'x-amz-date': amzDate,
  };
  headers['x-amz-content-sha256'] ??= sha256Hex(input.body);
  const [pathPart, queryPart = ''] = input.path.split('?', 2) as [string, string?];
  const query = queryPart
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const [k, v = ''] = pair.split('=', 2) as [string, string?];
      return [encodeQueryPart(decodeURIComponent(k)), encodeQueryPart(decodeURIComponent(v))] as [
        string,
        string,
      ];
    })
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const names = Object.keys(headers).sort();
  const canonical = [
    input.method,
    pathPart,
    query,
    ...names.map((name) => `${name}:${String(headers[name]).trim().replace(/\s+/g, ' ')}`),
    '',
    names.join(';'),
    headers['x-amz-content-sha256'],
  ].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n');
  const key = hmac(
    hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, day), region), 's3'),
    'aws4_request',
  );
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}

/** Sends one request to `endpoint` as given (no path normalisation), signed when asked. */
export function rawS3Request(
  endpoint: string,
  region: string,
  input: RawRequest,
): Promise<RawResponse> {
  const url = new URL(endpoint);
  const body =
    typeof input.body === 'string' ? Buffer.from(input.body) : (input.body ?? Buffer.alloc(0));
  const plain = { ...(input.headers ?? {}) };
  const headers = input.sign
    ? signRequest(
        { method: input.method, host: url.host, path: input.path, headers: plain, body },
        input.sign,
        region,
      )
    : { ...plain, host: url.host };
  if (body.length > 0 || ['PUT', 'POST'].includes(input.method))
    headers['content-length'] ??= String(body.length);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: input.method, path: input.path, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(60_000, () =>
      req.destroy(new Error(`no answer to ${input.method} ${input.path}`)),
    );
    req.on('error', reject);
    req.end(body);
  });
}

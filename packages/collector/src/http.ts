import type { IncomingHttpHeaders } from 'node:http';
import type { LookupFunction } from 'node:net';
import type { ResolvedAddress } from './ssrf.js';

// Taken with getBuiltinModule, not imported: an `import` of node:http makes node build its ES
// module face, which reads every export of it, and some of them load undici (node's fetch),
// HTTP/2, worker_threads and more that the function never uses. That alone took about a
// third of the collector's import time over the SDK clients' (packages/bench, case 4).
const { request: httpRequest } = process.getBuiltinModule('node:http');
const { request: httpsRequest } = process.getBuiltinModule('node:https');

export interface HttpRequest {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  /** Connect to this address instead of resolving the host again (the one the guard checked). */
  readonly pinnedAddress?: ResolvedAddress;
}

export interface HttpResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: AsyncIterable<Uint8Array>;
  /** Releases the connection when the body is not read to the end. */
  discard(): void;
}

/** One GET, no redirects followed. Injected so unit tests need no network. */
export type HttpTransport = (request: HttpRequest) => Promise<HttpResponse>;

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/**
 * A lookup that always answers with the checked address: the socket connects
 * where the guard looked, so a DNS answer that changes between check and
 * connect (rebinding) cannot redirect it. TLS still verifies the host name.
 */
function pinnedLookup(pinned: ResolvedAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address: pinned.address, family: pinned.family }]);
    else callback(null, pinned.address, pinned.family);
  };
}

export interface NodeTransportOptions {
  /** Certificates to trust instead of Node's bundled CAs (a private CA; tests' self-signed certs). */
  readonly ca?: string | Buffer;
}

/**
 * A node:http(s) transport. Sends the caller's headers as they are (its
 * Accept-Encoding included) and passes bodies through as sent: the fetch decodes
 * them, under its size limit. `user:password@` in the URL is never sent: Node would turn it
 * into an Authorization header for whatever host the URL names, so credentials
 * travel only as the headers the caller chose for that origin.
 */
export function createNodeHttpTransport(options: NodeTransportOptions = {}): HttpTransport {
  return (req) =>
    new Promise<HttpResponse>((resolve, reject) => {
      const https = req.url.protocol === 'https:';
      const send = https ? httpsRequest : httpRequest;
      const url = new URL(req.url.href);
      url.username = '';
      url.password = '';
      const outgoing = send(
        url,
        {
          method: 'GET',
          headers: req.headers,
          signal: req.signal,
          ...(req.pinnedAddress ? { lookup: pinnedLookup(req.pinnedAddress) } : {}),
          ...(https && options.ca !== undefined ? { ca: options.ca } : {}),
        },
        (incoming) => {
          resolve({
            status: incoming.statusCode ?? 0,
            headers: flattenHeaders(incoming.headers),
            body: incoming,
            discard: () => incoming.destroy(),
          });
        },
      );
      outgoing.on('error', reject);
      outgoing.end();
    });
}

/** The transport the collector uses: Node's bundled CAs. */
export const nodeHttpTransport: HttpTransport = createNodeHttpTransport();

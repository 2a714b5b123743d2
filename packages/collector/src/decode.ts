import { pipeline, Readable, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, createInflateRaw } from 'node:zlib';
import { ContentDecodingError, UnsupportedContentEncodingError } from './errors.js';

/** The content codings the collector decodes. */
export type ContentCoding = 'gzip' | 'deflate' | 'br';

/** What the collector asks for unless a source sets its own `Accept-Encoding`. */
export const DEFAULT_ACCEPT_ENCODING = 'gzip, br';

/** More layers than any real server applies. */
const MAX_CODINGS = 3;

const CODINGS: Readonly<Record<string, ContentCoding>> = {
  gzip: 'gzip',
  'x-gzip': 'gzip',
  deflate: 'deflate',
  br: 'br',
};

/**
 * The codings of a `Content-Encoding` header, in the order they were applied
 * (`gzip, br`: gzip first, then br). `identity` is no coding. A coding the collector
 * cannot decode fails the task: storing bytes the parser cannot read helps no one.
 */
export function contentCodings(sourceId: string, header: string | undefined): ContentCoding[] {
  if (header === undefined) return [];
  const codings: ContentCoding[] = [];
  for (const token of header.split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '' || name === 'identity') continue;
    const coding = CODINGS[name];
    if (coding === undefined) throw new UnsupportedContentEncodingError(sourceId, name);
    codings.push(coding);
  }
  if (codings.length > MAX_CODINGS) {
    // Each layer holds its own decoder (tens of KB); a hostile header could list thousands.
    throw new UnsupportedContentEncodingError(sourceId, header.trim(), MAX_CODINGS);
  }
  return codings;
}

/**
 * `deflate` is meant to be zlib-wrapped (RFC 9110), but some servers send raw deflate:
 * a zlib stream starts with a CMF byte of method 8 and a header checksum divisible by 31.
 */
function isZlibHeader(bytes: Buffer): boolean {
  const cmf = bytes[0];
  const flg = bytes[1];
  if (cmf === undefined || flg === undefined) return false;
  return (cmf & 0x0f) === 8 && (cmf * 256 + flg) % 31 === 0;
}

/** A zlib or brotli decoder; `bytesWritten` counts the compressed bytes it took in. */
function decoderFor(
  coding: ContentCoding,
  head: Buffer,
): Transform & { readonly bytesWritten: number } {
  switch (coding) {
    case 'gzip':
      return createGunzip();
    case 'br':
      return createBrotliDecompress();
    case 'deflate':
      return isZlibHeader(head) ? createInflate() : createInflateRaw();
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${error.message} (${code})` : error.message;
}

/**
 * Decodes one coding as the bytes stream in. Errors of the input (the network) come out
 * as they are, so the fetch can retry them; errors of the decoder (a truncated or
 * corrupt body) come out as ContentDecodingError, naming the coding. Stopping early
 * (the reader hit its size limit) tears down the decoder and the input.
 */
async function* decodeOne(
  input: AsyncIterable<Uint8Array>,
  coding: ContentCoding,
  sourceId: string,
): AsyncGenerator<Buffer> {
  const iterator = input[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  try {
    // Enough bytes to tell zlib from raw deflate.
    while (head.length < 2) {
      const next = await iterator.next();
      if (next.done) break;
      head = Buffer.concat([head, Buffer.from(next.value)]);
    }
  } catch (error) {
    await iterator.return?.();
    throw error;
  }
  // An empty body with a Content-Encoding is an empty body, not a truncated stream.
  if (head.length === 0) return;
  const rest = (async function* () {
    try {
      yield head;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        yield next.value;
      }
    } finally {
      await iterator.return?.();
    }
  })();
  const upstream = Readable.from(rest, { objectMode: false });
  const decoder = decoderFor(coding, head);
  let upstreamError: unknown;
  upstream.on('error', (error) => {
    upstreamError = error;
  });
  pipeline(upstream, decoder, () => undefined);
  let decoded = 0;
  try {
    for await (const chunk of decoder) {
      decoded += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  } catch (error) {
    if (upstreamError !== undefined) throw upstreamError;
    // Where it broke: the compressed bytes the decoder took in, and what it gave out.
    const position = `at compressed byte ${decoder.bytesWritten}, ${decoded} bytes decoded`;
    throw new ContentDecodingError(sourceId, coding, `${describe(error)} ${position}`);
  } finally {
    decoder.destroy();
    upstream.destroy();
  }
}

/**
 * The decoded bytes of a body sent with `codings` (as `contentCodings` returned them),
 * streamed: nothing is held beyond zlib's own window, so the reader's size limit bounds
 * the decoded size as it grows (a compression bomb stops at the limit).
 */
export function decodeBody(
  body: AsyncIterable<Uint8Array>,
  codings: readonly ContentCoding[],
  sourceId: string,
): AsyncIterable<Uint8Array> {
  // The last coding applied is the first to undo.
  return codings.reduceRight<AsyncIterable<Uint8Array>>(
    (input, coding) => decodeOne(input, coding, sourceId),
    body,
  );
}

import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { ContentEncodingError } from './errors.js';

/**
 * A streaming decoder for an HTTP `Content-Encoding` a body still has (the collector
 * normally decodes it): gzip, deflate (zlib-wrapped, as RFC 9110 defines it) or br.
 * Undefined for `identity`. Throws ContentEncodingError for anything else, a list of
 * codings included.
 */
export function decompressorFor(contentEncoding: string): Transform | undefined {
  switch (contentEncoding.trim().toLowerCase()) {
    case '':
    case 'identity':
      return undefined;
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      throw new ContentEncodingError(
        contentEncoding,
        'not supported (gzip, x-gzip, deflate, br and identity are)',
      );
  }
}

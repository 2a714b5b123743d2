import type { TransformOptions } from 'node:stream';
import {
  constants,
  createDeflateRaw,
  type DeflateRaw,
  deflateRawSync,
  type ZlibOptions,
} from 'node:zlib';

/**
 * One gzip member built from independently deflated segments, so that a segment can be left
 * out after it was made (a pack entry found bad after its records were compressed).
 *
 * Each segment is raw deflate ended with a sync flush: complete blocks, none of them final,
 * ending on a byte boundary, and no back-reference outside the segment (each has its own
 * compressor). Such segments concatenate into one deflate stream; the member closes with a
 * final empty block and the gzip trailer (CRC-32 and size of everything kept). Readers that
 * stop after a gzip file's first member (`curl --compressed`, some HTTP clients) read it
 * whole, which several concatenated members are not.
 */

/** gzip header: deflate, no name, no mtime (output never depends on the clock), OS Unix. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03]);
/** A final deflate block with no data (fixed Huffman codes, end-of-block only). */
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);

/** A deflate segment of `bytes`, made at once (small output). */
export function deflateSegmentSync(bytes: Buffer, level: number): Buffer {
  return deflateRawSync(bytes, { level, finishFlush: constants.Z_SYNC_FLUSH });
}

/**
 * A compressor whose output, once ended, is one deflate segment; `inputBytes` is how much
 * input it may hold before a writer waits.
 */
export function createSegmentDeflater(level: number, inputBytes?: number): DeflateRaw {
  // zlib's streams take the stream options too (its types leave them out).
  const options: ZlibOptions & TransformOptions = {
    level,
    finishFlush: constants.Z_SYNC_FLUSH,
    ...(inputBytes !== undefined ? { writableHighWaterMark: inputBytes } : {}),
  };
  return createDeflateRaw(options);
}

/** The uncompressed size and CRC-32 a segment adds, as `parseStream` reports them. */
export interface SegmentStats {
  readonly linesBytes: number;
  /** CRC-32 of everything kept up to and including this segment (continued from `crcSeed`). */
  readonly crc: number;
}

/** Keeps the running CRC-32 and size of the segments kept, and writes the member around them. */
export class GzipMemberAssembler {
  private crc = 0;
  private size = 0;

  /** The CRC-32 a new segment continues from. */
  get crcSeed(): number {
    return this.crc;
  }

  header(): Buffer {
    return GZIP_HEADER;
  }

  /** A segment is kept: it follows the ones kept before. */
  keep(stats: SegmentStats): void {
    this.crc = stats.crc;
    this.size = (this.size + stats.linesBytes) % 2 ** 32;
  }

  /** The final block and the trailer: CRC-32 and size (mod 2^32), little-endian. */
  trailer(): Buffer {
    const trailer = Buffer.alloc(FINAL_EMPTY_BLOCK.length + 8);
    FINAL_EMPTY_BLOCK.copy(trailer, 0);
    trailer.writeUInt32LE(this.crc >>> 0, FINAL_EMPTY_BLOCK.length);
    trailer.writeUInt32LE(this.size, FINAL_EMPTY_BLOCK.length + 4);
    return trailer;
  }
}

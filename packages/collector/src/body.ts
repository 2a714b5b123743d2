import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BodyTooLargeError } from './errors.js';

/** A response body held in memory or in a temp file, with its hash and size. */
export interface BufferedBody {
  readonly bytes: number;
  readonly sha256: string;
  /** True when the body was spooled to disk. */
  readonly spooled: boolean;
  /** A fresh stream of the bytes (memory buffer or temp file). */
  open(): Buffer | Readable;
  text(): Promise<string>;
  /** Removes the temp file, if any. Safe to call twice. */
  dispose(): Promise<void>;
}

export interface ReadBodyOptions {
  readonly sourceId: string;
  readonly maxBytes: number;
  readonly memoryBufferBytes: number;
  readonly tmpDir: string;
  /** The Content-Encoding the bytes were decoded from, named when the limit is passed. */
  readonly decodedFrom?: string;
  /** Also fed with every chunk: the hash over all pages of a source. */
  readonly alsoHash?: Hash;
  /**
   * Updated as bytes arrive. When set, a read that fails after spooling keeps its temp
   * file and hands it over in `spool` (the caller releases it): the hard deadline may
   * cut a download the next hop can resume from those bytes.
   */
  readonly progress?: BodyProgress;
}

/** How far a body read got; `spool` is set only when a failed read left its temp file. */
export interface BodyProgress {
  bytes: number;
  spool?: {
    readonly path: string;
    readonly bytes: number;
    /** Removes the temp file. Safe to call twice. */
    release(): Promise<void>;
  };
}

/**
 * Reads a body (already decoded, if it was compressed) to the end, hashing as it goes
 * and enforcing the size limit
 * while streaming. Small bodies stay in memory; past `memoryBufferBytes` the
 * bytes go to a temp file so memory stays bounded by the buffer size.
 */
export async function readBody(
  body: AsyncIterable<Uint8Array>,
  options: ReadBodyOptions,
): Promise<BufferedBody> {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let bytes = 0;
  let directory: string | undefined;
  let file: FileHandle | undefined;
  let path: string | undefined;
  const cleanup = async () => {
    await file?.close().catch(() => undefined);
    file = undefined;
    if (directory) await rm(directory, { recursive: true, force: true });
    directory = undefined;
  };
  try {
    for await (const piece of body) {
      const chunk = Buffer.isBuffer(piece) ? piece : Buffer.from(piece);
      bytes += chunk.length;
      if (options.progress) options.progress.bytes = Math.min(bytes, options.maxBytes);
      if (bytes > options.maxBytes) {
        throw new BodyTooLargeError(options.sourceId, options.maxBytes, options.decodedFrom);
      }
      hash.update(chunk);
      options.alsoHash?.update(chunk);
      if (file) {
        await file.write(chunk);
      } else if (bytes > options.memoryBufferBytes) {
        directory = await mkdtemp(join(options.tmpDir, 'fanout-body-'));
        path = join(directory, 'body');
        file = await open(path, 'w');
        for (const held of chunks) await file.write(held);
        chunks.length = 0;
        await file.write(chunk);
      } else {
        chunks.push(chunk);
      }
    }
    await file?.close();
    file = undefined;
  } catch (error) {
    if (options.progress && path !== undefined && !(error instanceof BodyTooLargeError)) {
      // Everything written so far is on disk, in order: a prefix of the body.
      await file?.close().catch(() => undefined);
      file = undefined;
      // The file's size, not the count: a chunk counted may not have been written.
      const { size } = await stat(path);
      options.progress.spool = { path, bytes: size, release: cleanup };
      throw error;
    }
    await cleanup();
    throw error;
  }
  const sha256 = hash.digest('hex');
  if (path !== undefined) {
    const spoolPath = path;
    return {
      bytes,
      sha256,
      spooled: true,
      open: () => createReadStream(spoolPath),
      text: () => readFile(spoolPath, 'utf8'),
      dispose: cleanup,
    };
  }
  const data = Buffer.concat(chunks);
  return {
    bytes,
    sha256,
    spooled: false,
    open: () => data,
    text: async () => data.toString('utf8'),
    dispose: async () => undefined,
  };
}

import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { constants, createGzip, type Gzip, gzipSync } from 'node:zlib';
import {
  type PackEntryFields,
  type PackHeader,
  packEntryLine,
  packHeaderLine,
  parsePackHeader,
} from '@fanout/shared';
import { PackWriteError } from './errors.js';

export interface PackWriterOptions {
  readonly tmpDir: string;
  /** Compressed bytes held in memory before the entries are spooled to a temp file. */
  readonly memoryBytes: number;
  /** Largest entries member (compressed); an entry that might not fit is refused. */
  readonly maxBytes: number;
}

/** A finished pack, ready to upload: the header member, then the entries member. */
export interface FinishedPack {
  readonly key: string;
  /** Size of the whole object. */
  readonly bytes: number;
  readonly entries: number;
  /** True when the entries were spooled to a temp file. */
  readonly spooled: boolean;
  /** The whole object in memory (for small packs: one PutObject with a known length). */
  toBuffer(): Promise<Buffer>;
  /** A fresh stream of the whole object. */
  open(): Readable;
}

/**
 * The most bytes deflate can emit for `n` input bytes, as zlib's `deflateBound`, plus the
 * sync-flush marker after each entry and the gzip wrapper: a cap check that never lets an
 * entry push the pack past its limit, without compressing the entry first.
 */
export function worstCaseDeflatedBytes(n: number): number {
  const GZIP_WRAPPER_AND_FLUSH_BYTES = 10 + 8 + 5 + 13;
  return n + (n >>> 12) + (n >>> 14) + (n >>> 25) + GZIP_WRAPPER_AND_FLUSH_BYTES;
}

/**
 * The entries of one collector hop, gzip-compressed as they are added. Appends are
 * serialised (tasks of a hop add pages concurrently) and each one is flushed (a sync
 * flush keeps the compression dictionary), so the compressed size is known exactly
 * before the next entry is weighed against the cap. Compressed bytes stay in memory up
 * to `memoryBytes`, then go to a temp file under `tmpDir`.
 */
export class PackWriter {
  private readonly gzip: Gzip = createGzip();
  /** Compressed output not yet moved to memory or the spool file. */
  private pending: Buffer[] = [];
  private readonly held: Buffer[] = [];
  private heldBytes = 0;
  private compressedBytes = 0;
  private directory: string | undefined;
  private path: string | undefined;
  private file: FileHandle | undefined;
  private count = 0;
  private finished = false;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: PackWriteError | undefined;

  constructor(
    readonly key: string,
    private readonly options: PackWriterOptions,
  ) {
    this.gzip.on('data', (chunk: Buffer) => {
      this.pending.push(chunk);
      this.compressedBytes += chunk.length;
    });
    // Errors surface through the awaited write, flush and end calls.
    this.gzip.on('error', () => undefined);
  }

  /** Entries added so far. */
  get entries(): number {
    return this.count;
  }

  /** Compressed bytes of the entries so far. */
  get bytes(): number {
    return this.compressedBytes;
  }

  get spooled(): boolean {
    return this.path !== undefined;
  }

  /**
   * Adds one page. Resolves false, adding nothing, when the entry might take the pack
   * past `maxBytes`: the caller stores that page on its own.
   */
  append(fields: PackEntryFields, body: Buffer): Promise<boolean> {
    return this.serially(async () => {
      if (this.finished) throw new PackWriteError(this.key, 'append after finish');
      const line = packEntryLine(fields, body);
      const lineBytes = Buffer.byteLength(line, 'utf8');
      if (this.compressedBytes + worstCaseDeflatedBytes(lineBytes) > this.options.maxBytes) {
        return false;
      }
      await this.writeAndFlush(line);
      await this.drain();
      this.count += 1;
      return true;
    });
  }

  /** Ends the entries member and puts the header in front of it. */
  finish(header: PackHeader): Promise<FinishedPack> {
    return this.serially(async () => {
      if (this.finished) throw new PackWriteError(this.key, 'finished twice');
      this.finished = true;
      const checked = parsePackHeader(header);
      if (checked.entries !== this.count) {
        throw new PackWriteError(
          this.key,
          `header announces ${checked.entries} entries, the pack holds ${this.count}`,
        );
      }
      const ended = once(this.gzip, 'end');
      this.gzip.end();
      await ended;
      await this.drain();
      await this.file?.close();
      this.file = undefined;
      return this.finishedPack(gzipSync(packHeaderLine(checked)));
    });
  }

  /** Removes the spool file, if any. Safe to call twice. */
  async dispose(): Promise<void> {
    this.gzip.destroy();
    await this.file?.close().catch(() => undefined);
    this.file = undefined;
    if (this.directory) await rm(this.directory, { recursive: true, force: true });
    this.directory = undefined;
  }

  private finishedPack(head: Buffer): FinishedPack {
    const entriesBytes = this.compressedBytes;
    const path = this.path;
    const held = this.held;
    return {
      key: this.key,
      bytes: head.length + entriesBytes,
      entries: this.count,
      spooled: path !== undefined,
      toBuffer: async () =>
        Buffer.concat([head, ...(path === undefined ? held : [await readFile(path)])]),
      open: () =>
        path === undefined
          ? Readable.from([head, ...held])
          : Readable.from(
              (async function* () {
                yield head;
                yield* createReadStream(path);
              })(),
            ),
    };
  }

  /** Runs one step after the previous ones; after a failure, every later step fails too. */
  private serially<T>(step: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.failure) throw this.failure;
      try {
        return await step();
      } catch (error) {
        this.failure =
          error instanceof PackWriteError ? error : new PackWriteError(this.key, error);
        throw this.failure;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private writeAndFlush(line: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.gzip.once('error', onError);
      this.gzip.write(line, 'utf8');
      // Output for everything written so far is emitted before the flush completes.
      this.gzip.flush(constants.Z_SYNC_FLUSH, () => {
        this.gzip.off('error', onError);
        resolve();
      });
    });
  }

  /** Moves compressed output to memory, or to the spool file once memory is full. */
  private async drain(): Promise<void> {
    const chunks = this.pending;
    this.pending = [];
    const incoming = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    if (this.file === undefined && this.heldBytes + incoming > this.options.memoryBytes) {
      this.directory = await mkdtemp(join(this.options.tmpDir, 'fanout-pack-'));
      this.path = join(this.directory, 'entries.gz');
      this.file = await open(this.path, 'w');
      for (const chunk of this.held) await this.file.write(chunk);
      this.held.length = 0;
      this.heldBytes = 0;
    }
    if (this.file) {
      for (const chunk of chunks) await this.file.write(chunk);
      return;
    }
    this.held.push(...chunks);
    this.heldBytes += incoming;
  }
}

import { once } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { CopyObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { OutputSettings } from './config.js';
import { copySource } from './copy-source.js';

export const PARSED_CONTENT_TYPE = 'application/x-ndjson';

interface MultipartOutput {
  readonly body: PassThrough;
  readonly done: Promise<void>;
}

export interface ParsedObjectTarget {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly settings: OutputSettings;
}

/**
 * The parsed object being written. Its metadata (the parse outcome) is only known once
 * the last byte is out, and S3 takes metadata with the first request, so:
 * - output up to one part (`uploadPartBytes`, 5 MiB by default: nearly every object) is
 *   held in memory and stored with ONE PutObject carrying the metadata;
 * - larger output streams as a multipart upload (its memory bound is a part anyway),
 *   then one CopyObject onto itself sets the metadata. The object has no outcome until
 *   that copy, so a reader never takes an unfinished object for a finished one.
 * Nothing is left behind when `abort` is called: no PutObject happened, and lib-storage
 * aborts a multipart upload it had started.
 */
export class ParsedObjectWriter {
  private readonly held: Buffer[] = [];
  private heldBytes = 0;
  /** The multipart upload, once the output outgrew one part (started at most once). */
  private upload?: Promise<MultipartOutput>;
  private uploadError?: Error;
  private written = 0;

  /** Where a parse writes its gzip bytes (backpressure included). */
  readonly stream: Writable;

  constructor(private readonly target: ParsedObjectTarget) {
    this.stream = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.write(chunk).then(() => callback(), callback);
      },
    });
  }

  /** Bytes accepted so far. */
  get bytes(): number {
    return this.written;
  }

  async write(chunk: Buffer): Promise<void> {
    this.written += chunk.length;
    if (this.upload === undefined && this.heldBytes + chunk.length <= this.partBytes()) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      return;
    }
    this.upload ??= this.startUpload();
    const upload = await this.upload;
    if (this.uploadError !== undefined) throw this.uploadError;
    if (!upload.body.write(chunk)) await once(upload.body, 'drain');
  }

  /** Stores the object with `metadata`; returns the bytes stored. */
  async finish(metadata: Record<string, string>): Promise<number> {
    const { s3, bucket, key } = this.target;
    const headers = { ContentType: PARSED_CONTENT_TYPE, ContentEncoding: 'gzip' } as const;
    if (this.upload === undefined) {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: Buffer.concat(this.held, this.heldBytes),
          Metadata: metadata,
          ...headers,
        }),
      );
      return this.written;
    }
    const upload = await this.upload;
    upload.body.end();
    await upload.done;
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: key,
        CopySource: copySource(bucket, key),
        MetadataDirective: 'REPLACE',
        Metadata: metadata,
        ...headers,
      }),
    );
    return this.written;
  }

  /** Discards everything written; waits until a started multipart upload is aborted. */
  async abort(): Promise<void> {
    this.held.length = 0;
    this.heldBytes = 0;
    // An upload still starting is awaited, so that it too is aborted.
    const upload = await this.upload?.catch(() => undefined);
    if (upload === undefined) return;
    upload.body.destroy(new Error(`output to ${JSON.stringify(this.target.key)} discarded`));
    await upload.done.catch(() => undefined);
  }

  private partBytes(): number {
    return this.target.settings.uploadPartBytes;
  }

  private async startUpload(): Promise<MultipartOutput> {
    // lib-storage is imported by the first output past one part, not at the cold start:
    // nearly every object is stored by one PutObject (see the README, "Cold start").
    const { Upload } = await import('@aws-sdk/lib-storage');
    const { s3, bucket, key, settings } = this.target;
    const body = new PassThrough();
    const upload = new Upload({
      client: s3,
      params: {
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentType: PARSED_CONTENT_TYPE,
        ContentEncoding: 'gzip',
      },
      partSize: settings.uploadPartBytes,
      queueSize: settings.uploadQueueSize,
      // A failed parse must leave nothing behind: incomplete parts are aborted.
      leavePartsOnError: false,
    });
    const done = upload.done().then(
      () => undefined,
      (error: unknown) => {
        this.uploadError = error instanceof Error ? error : new Error(String(error));
        // Unblocks a writer waiting on backpressure, which would otherwise wait forever.
        body.destroy(this.uploadError);
        throw error;
      },
    );
    // Observed here so a failure before finish() is not an unhandled rejection.
    done.catch(() => undefined);
    for (const chunk of this.held) body.write(chunk);
    this.held.length = 0;
    this.heldBytes = 0;
    return { body, done };
  }
}

import { createHash, type Hash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import {
  type ChunkSigning,
  chunkSignature,
  type PayloadMode,
  sameSignature,
  trailerSignature,
} from './auth.js';
import {
  type ChecksumAlgorithm,
  type Checksummer,
  createChecksummer,
  isChecksumAlgorithm,
} from './checksums.js';
import { S3Error } from './errors.js';

/** A flexible checksum of an object, as S3 stores and returns it. */
export interface StoredChecksum {
  readonly algorithm: ChecksumAlgorithm;
  /** Base64, as in the `x-amz-checksum-<algorithm>` header. */
  readonly value: string;
}

const MAX_FRAMING_LINE = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;

const malformedChunk = (why: string) =>
  new S3Error(400, 'InvalidRequest', `Invalid aws-chunked body: ${why}`);
const incompleteBody = () =>
  new S3Error(
    400,
    'IncompleteBody',
    'You did not provide the number of bytes specified by the Content-Length HTTP header',
  );

/**
 * Decodes an `aws-chunked` body (`<hex size>[;chunk-signature=<sig>]\r\n<bytes>\r\n`
 * ... `0\r\n`, trailer lines, `\r\n`) into its bytes, checking each chunk's signature
 * when the request was signed that way; the trailer's headers are kept for the checks.
 */
export class AwsChunkedDecoder extends Transform {
  readonly trailers = new Map<string, string>();
  private buffer: Buffer = Buffer.alloc(0);
  private state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';
  private remaining = 0;
  private chunkSignatureGiven = '';
  private chunkHash: Hash | undefined;
  private previousSignature: string;
  private trailerText = '';

  constructor(private readonly signing: ChunkSigning | undefined) {
    super();
    this.previousSignature = signing?.seedSignature ?? '';
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.consume();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    callback(this.state === 'done' ? undefined : incompleteBody());
  }

  private line(limit: number): string | undefined {
    const end = this.buffer.indexOf('\r\n');
    if (end === -1) {
      if (this.buffer.length > limit) throw malformedChunk('a framing line is too long');
      return undefined;
    }
    const text = this.buffer.subarray(0, end).toString('latin1');
    this.buffer = this.buffer.subarray(end + 2);
    return text;
  }

  private consume(): void {
    for (;;) {
      if (this.state === 'size') {
        const header = this.line(MAX_FRAMING_LINE);
        if (header === undefined) return;
        const [size = '', ...extensions] = header.split(';');
        if (!/^[0-9a-fA-F]{1,16}$/.test(size))
          throw malformedChunk(`chunk size ${JSON.stringify(size)}`);
        this.remaining = Number.parseInt(size, 16);
        const signature = extensions.find((e) => e.startsWith('chunk-signature='));
        this.chunkSignatureGiven = signature?.slice('chunk-signature='.length) ?? '';
        if (this.signing && !this.chunkSignatureGiven)
          throw malformedChunk('a chunk has no chunk-signature');
        this.chunkHash = this.signing ? createHash('sha256') : undefined;
        this.state = 'data';
        if (this.remaining === 0) this.endChunk();
        continue;
      }
      if (this.state === 'data') {
        if (this.buffer.length === 0) return;
        const take = this.buffer.subarray(0, this.remaining);
        this.buffer = this.buffer.subarray(take.length);
        this.remaining -= take.length;
        this.chunkHash?.update(take);
        if (take.length > 0) this.push(take);
        if (this.remaining > 0) return;
        this.state = 'data-end';
        continue;
      }
      if (this.state === 'data-end') {
        if (this.buffer.length < 2) return;
        if (this.buffer[0] !== 0x0d || this.buffer[1] !== 0x0a)
          throw malformedChunk('a chunk does not end with CRLF');
        this.buffer = this.buffer.subarray(2);
        this.endChunk();
        continue;
      }
      if (this.state === 'trailer') {
        const line = this.line(MAX_TRAILER_BYTES);
        if (line === undefined) return;
        if (line === '') {
          this.endTrailer();
          continue;
        }
        const colon = line.indexOf(':');
        if (colon <= 0) throw malformedChunk(`trailer line ${JSON.stringify(line.slice(0, 80))}`);
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        this.trailers.set(name, value);
        if (name !== 'x-amz-trailer-signature') this.trailerText += `${name}:${value}\n`;
        if (this.trailerText.length > MAX_TRAILER_BYTES)
          throw malformedChunk('the trailer is too long');
        continue;
      }
      // done: anything after the final CRLF is ignored, as S3 does.
      this.buffer = Buffer.alloc(0);
      return;
    }
  }

  private endChunk(): void {
    const last = this.remaining === 0 && this.state === 'data';
    if (this.signing) {
      const digest = (this.chunkHash ?? createHash('sha256')).digest('hex');
      const expected = chunkSignature(this.signing, this.previousSignature, digest);
      if (!sameSignature(expected, this.chunkSignatureGiven)) {
        throw new S3Error(
          403,
          'SignatureDoesNotMatch',
          'The chunk signature does not match the chunk.',
        );
      }
      this.previousSignature = expected;
    }
    if (last) {
      // The zero-size chunk: trailers (or the final CRLF) follow.
      this.state = 'trailer';
      return;
    }
    this.state = 'size';
  }

  private endTrailer(): void {
    const given = this.trailers.get('x-amz-trailer-signature');
    if (this.signing && given !== undefined) {
      const expected = trailerSignature(this.signing, this.previousSignature, this.trailerText);
      if (!sameSignature(expected, given)) {
        throw new S3Error(
          403,
          'SignatureDoesNotMatch',
          'The trailer signature does not match the trailer.',
        );
      }
    }
    this.state = 'done';
  }
}

interface Expectations {
  readonly sha256Hex?: string;
  readonly md5Base64?: string;
  readonly length?: number;
  /** The algorithm whose value comes in a header or the trailer, or is only to be computed. */
  readonly checksum?: { algorithm: ChecksumAlgorithm; value?: string; fromTrailer: boolean };
}

/**
 * Passes the decoded bytes through and checks them when they end, before the
 * writer commits: the signed SHA-256, Content-MD5, the flexible checksum (header or
 * trailer), and x-amz-decoded-content-length. A failure errors the stream, so the
 * write is abandoned and nothing is stored.
 */
class PayloadVerifier extends Transform {
  checksum: StoredChecksum | undefined;
  private size = 0;
  private readonly sha256?: Hash;
  private readonly md5?: Hash;
  private readonly checksummer?: Checksummer;

  constructor(
    private readonly expect: Expectations,
    private readonly decoder: AwsChunkedDecoder | undefined,
  ) {
    super();
    if (expect.sha256Hex) this.sha256 = createHash('sha256');
    if (expect.md5Base64) this.md5 = createHash('md5');
    if (expect.checksum) this.checksummer = createChecksummer(expect.checksum.algorithm);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    this.sha256?.update(chunk);
    this.md5?.update(chunk);
    this.checksummer?.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.verify().then(
      () => callback(),
      (error: Error) => callback(error),
    );
  }

  private async verify(): Promise<void> {
    const { expect } = this;
    if (expect.length !== undefined && this.size !== expect.length) throw incompleteBody();
    if (this.sha256 && this.sha256.digest('hex') !== expect.sha256Hex) {
      throw new S3Error(
        400,
        'XAmzContentSHA256Mismatch',
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
      );
    }
    if (this.md5 && this.md5.digest('base64') !== expect.md5Base64) {
      throw new S3Error(
        400,
        'BadDigest',
        'The Content-MD5 you specified did not match what we received.',
      );
    }
    if (this.checksummer && expect.checksum) {
      const { algorithm, fromTrailer } = expect.checksum;
      const given = fromTrailer
        ? this.decoder?.trailers.get(`x-amz-checksum-${algorithm}`)
        : expect.checksum.value;
      if (fromTrailer && given === undefined) {
        throw new S3Error(
          400,
          'InvalidRequest',
          `The trailer x-amz-checksum-${algorithm} announced in x-amz-trailer was not sent`,
        );
      }
      const computed = await this.checksummer.digest();
      if (given !== undefined && given !== computed) {
        throw new S3Error(
          400,
          'BadDigest',
          `The ${algorithm.toUpperCase()} you specified did not match the calculated checksum.`,
        );
      }
      this.checksum = { algorithm, value: computed };
    }
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function checksumExpectation(req: IncomingMessage): Expectations['checksum'] {
  const given = Object.keys(req.headers).filter(
    (name) =>
      name.startsWith('x-amz-checksum-') &&
      name !== 'x-amz-checksum-type' &&
      name !== 'x-amz-checksum-algorithm',
  );
  if (given.length > 1) {
    throw new S3Error(
      400,
      'InvalidRequest',
      'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
    );
  }
  const [name] = given;
  if (name !== undefined) {
    const algorithm = name.slice('x-amz-checksum-'.length);
    if (!isChecksumAlgorithm(algorithm))
      throw new S3Error(400, 'InvalidRequest', `Unknown checksum header ${name}`);
    return { algorithm, value: header(req, name) ?? '', fromTrailer: false };
  }
  const trailer = header(req, 'x-amz-trailer')?.trim().toLowerCase();
  if (trailer?.startsWith('x-amz-checksum-')) {
    const algorithm = trailer.slice('x-amz-checksum-'.length);
    if (!isChecksumAlgorithm(algorithm))
      throw new S3Error(400, 'InvalidRequest', `Unknown trailer ${trailer}`);
    return { algorithm, fromTrailer: true };
  }
  const requested = (
    header(req, 'x-amz-sdk-checksum-algorithm') ?? header(req, 'x-amz-checksum-algorithm')
  )?.toLowerCase();
  if (requested !== undefined && isChecksumAlgorithm(requested))
    return { algorithm: requested, fromTrailer: false };
  return undefined;
}

export interface RequestPayload {
  /** The object's bytes, decoded and checked as they end. */
  readonly stream: Transform;
  /** The checksum to store with the object, once the stream has ended. */
  checksum(): StoredChecksum | undefined;
}

/** The request body as the object's bytes, with every check S3 makes on it. */
export function requestPayload(req: IncomingMessage, mode: PayloadMode): RequestPayload {
  const decodedLength = header(req, 'x-amz-decoded-content-length');
  const md5 = header(req, 'content-md5');
  const expectations: Expectations = {
    ...(mode.kind === 'sha256' ? { sha256Hex: mode.hex } : {}),
    ...(md5 !== undefined ? { md5Base64: md5 } : {}),
    ...(mode.kind === 'chunked' && decodedLength !== undefined
      ? { length: Number(decodedLength) }
      : {}),
    ...(() => {
      const checksum = checksumExpectation(req);
      return checksum ? { checksum } : {};
    })(),
  };
  if (mode.kind === 'chunked' && decodedLength === undefined) {
    throw new S3Error(
      411,
      'MissingContentLength',
      'You must provide the x-amz-decoded-content-length header for aws-chunked uploads.',
    );
  }
  const decoder = mode.kind === 'chunked' ? new AwsChunkedDecoder(mode.signing) : undefined;
  const verifier = new PayloadVerifier(expectations, decoder);
  const source = decoder ? req.pipe(decoder) : req;
  source.on('error', (error) => verifier.destroy(error));
  req.on('error', (error) => verifier.destroy(error));
  req.on('aborted', () => verifier.destroy(incompleteBody()));
  source.pipe(verifier);
  // The body may fail before its consumer is attached (a write opens its file first):
  // the stream stays errored and the consumer's pipeline reports it then. Without a
  // listener the error would be an uncaught exception and end the process.
  verifier.on('error', () => {});
  return { stream: verifier, checksum: () => verifier.checksum };
}

/** Reads a small request body (an XML document) whole, through the same checks. */
export async function readPayload(payload: RequestPayload, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload.stream) {
    size += (chunk as Buffer).length;
    if (size > limit)
      throw new S3Error(400, 'MaxMessageLengthExceeded', 'Your request was too big.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

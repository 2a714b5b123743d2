import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import {
  checkCopySourceConditions,
  checkReadConditions,
  parseRange,
  writePrecondition,
} from './conditions.js';
import {
  bucketOf,
  existingBucket,
  header,
  headerReader,
  keyOf,
  quoted,
  type S3Context,
  sendEmpty,
  sendXml,
} from './context.js';
import { invalidArgument, malformedXml, noSuchKey, noSuchUpload, S3Error } from './errors.js';
import { keptHeaders, type ObjectRecord } from './object-store.js';
import { readPayload, requestPayload } from './payload.js';
import { document, element, parseRequestXml } from './xml.js';

const MIB = 1024 * 1024;
/** Every part but the last must be at least this large (S3's multipart limits). */
export const MIN_PART_BYTES = 5 * MIB;
export const MAX_PARTS = 10_000;

/** The headers a write keeps: the content headers and user metadata, minus aws-chunked. */
function writeHeaders(ctx: S3Context): Record<string, string> {
  const headers = keptHeaders(ctx.req.headers);
  const encoding = headers['content-encoding']
    ?.split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '' && part.toLowerCase() !== 'aws-chunked')
    .join(',');
  if (encoding) headers['content-encoding'] = encoding;
  else delete headers['content-encoding'];
  headers['content-type'] ??= 'binary/octet-stream';
  return headers;
}

function checksumHeaders(record: ObjectRecord): Record<string, string> {
  return record.checksum
    ? { [`x-amz-checksum-${record.checksum.algorithm}`]: record.checksum.value }
    : {};
}

export async function putObject(ctx: S3Context): Promise<void> {
  if (header(ctx, 'x-amz-copy-source') !== undefined) return copyObject(ctx);
  const bucket = await existingBucket(ctx);
  const key = keyOf(ctx);
  const precondition = writePrecondition(headerReader(ctx), key);
  const payload = requestPayload(ctx.req, ctx.auth.payload);
  const record = await ctx.store.write(bucket, key, payload.stream, {
    headers: writeHeaders(ctx),
    checksum: payload.checksum,
    ...(precondition ? { precondition } : {}),
  });
  ctx.notify({ bucket, key, eventName: 'ObjectCreated:Put', size: record.size, eTag: record.etag });
  sendEmpty(ctx, 200, { etag: quoted(record.etag), ...checksumHeaders(record) });
}

/** The response headers S3 lets a GET override (`response-content-type=...`). */
const OVERRIDES = [
  'content-type',
  'content-language',
  'expires',
  'cache-control',
  'content-disposition',
  'content-encoding',
];

/** A part of a multipart object by its number, as a byte range. */
function partRange(record: ObjectRecord, partNumber: number): { start: number; end: number } {
  const parts = record.parts ?? [record.size];
  const size = parts[partNumber - 1];
  if (size === undefined) {
    throw new S3Error(416, 'InvalidPartNumber', 'The requested partnumber is not satisfiable', {
      PartNumberRequested: partNumber,
      ActualPartCount: parts.length,
    });
  }
  const start = parts.slice(0, partNumber - 1).reduce((sum, n) => sum + n, 0);
  return { start, end: start + size - 1 };
}

export async function getObject(ctx: S3Context): Promise<void> {
  const bucket = await existingBucket(ctx);
  const key = keyOf(ctx);
  const partParam = ctx.query.get('partNumber');
  const partNumber = partParam === null ? undefined : Number(partParam);
  if (
    partNumber !== undefined &&
    (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PARTS)
  ) {
    throw invalidArgument(
      'partNumber',
      partParam ?? '',
      'Part number must be an integer between 1 and 10000, inclusive',
    );
  }
  const opened = await ctx.store.open(bucket, key);
  if (!opened) throw noSuchKey(key);
  const { record, handle } = opened;
  let streaming = false;
  try {
    const base: Record<string, string> = {
      etag: quoted(record.etag),
      'last-modified': record.lastModified.toUTCString(),
      'accept-ranges': 'bytes',
    };
    const outcome = checkReadConditions(record, headerReader(ctx));
    if (outcome === 304) return sendEmpty(ctx, 304, base);
    if (outcome === 412)
      throw new S3Error(
        412,
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
        { Condition: 'If-Match' },
      );

    const range =
      partNumber !== undefined && (record.parts || partNumber > 1)
        ? partRange(record, partNumber)
        : parseRange(header(ctx, 'range'), record.size);
    const headers: Record<string, string> = { ...record.headers, ...base };
    for (const name of OVERRIDES) {
      const value = ctx.query.get(`response-${name}`);
      if (value !== null) headers[name] = value;
    }
    if (record.parts) headers['x-amz-mp-parts-count'] = String(record.parts.length);
    if (
      !range &&
      header(ctx, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED' &&
      record.checksum
    ) {
      Object.assign(headers, checksumHeaders(record), { 'x-amz-checksum-type': 'FULL_OBJECT' });
    }
    const length = range ? range.end - range.start + 1 : record.size;
    headers['content-length'] = String(length);
    if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${record.size}`;
    ctx.res.writeHead(range ? 206 : 200, headers);
    if (ctx.method === 'HEAD' || length === 0) {
      ctx.res.end();
      return;
    }
    const stream = handle.createReadStream(range ? { start: range.start, end: range.end } : {});
    streaming = true;
    await pipeline(stream, ctx.res).catch(() => {
      // The client went away; the stream (and with it the handle) is closed.
    });
  } finally {
    if (!streaming) await handle.close();
  }
}

export async function deleteObject(ctx: S3Context): Promise<void> {
  const bucket = await existingBucket(ctx);
  await ctx.store.delete(bucket, keyOf(ctx));
  sendEmpty(ctx, 204);
}

interface CopySource {
  readonly bucket: string;
  readonly key: string;
}

/** `x-amz-copy-source`: `bucket/key` or `/bucket/key`, URL-encoded; `?versionId=` ignored. */
function copySource(ctx: S3Context): CopySource {
  const raw = header(ctx, 'x-amz-copy-source') ?? '';
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw.split('?')[0] ?? '');
  } catch {
    throw invalidArgument('x-amz-copy-source', raw, 'Invalid copy source encoding.');
  }
  const path = decoded.startsWith('/') ? decoded.slice(1) : decoded;
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) {
    throw invalidArgument(
      'x-amz-copy-source',
      raw,
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey.',
    );
  }
  return { bucket: path.slice(0, slash), key: path.slice(slash + 1) };
}

async function openSource(
  ctx: S3Context,
  source: CopySource,
): Promise<{ record: ObjectRecord; handle: FileHandle }> {
  if (!(await ctx.store.bucketExists(source.bucket))) {
    throw new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', {
      BucketName: source.bucket,
    });
  }
  const opened = await ctx.store.open(source.bucket, source.key);
  if (!opened) throw noSuchKey(source.key);
  try {
    checkCopySourceConditions(opened.record, headerReader(ctx));
  } catch (error) {
    await opened.handle.close();
    throw error;
  }
  return opened;
}

export async function copyObject(ctx: S3Context): Promise<void> {
  const bucket = await existingBucket(ctx);
  const key = keyOf(ctx);
  const source = copySource(ctx);
  const directive = (header(ctx, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw invalidArgument('x-amz-metadata-directive', directive, 'Unknown metadata directive.');
  }
  if (source.bucket === bucket && source.key === key && directive === 'COPY') {
    throw new S3Error(
      400,
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const precondition = writePrecondition(headerReader(ctx), key);
  const { record: from, handle } = await openSource(ctx, source);
  let record: ObjectRecord;
  try {
    record = await ctx.store.write(bucket, key, handle.createReadStream({ autoClose: false }), {
      headers: directive === 'REPLACE' ? writeHeaders(ctx) : { ...from.headers },
      ...(from.checksum ? { checksum: () => from.checksum } : {}),
      ...(from.parts ? { etag: from.etag, parts: from.parts } : {}),
      ...(precondition ? { precondition } : {}),
    });
  } finally {
    await handle.close();
  }
  ctx.notify({
    bucket,
    key,
    eventName: 'ObjectCreated:Copy',
    size: record.size,
    eTag: record.etag,
  });
  sendXml(
    ctx,
    200,
    document(
      'CopyObjectResult',
      `${element('LastModified', record.lastModified.toISOString())}${element('ETag', quoted(record.etag))}`,
    ),
  );
}

// ---- multipart ----

export async function createMultipartUpload(ctx: S3Context): Promise<void> {
  const bucket = await existingBucket(ctx);
  const key = keyOf(ctx);
  const upload = await ctx.uploads.create(bucket, key, writeHeaders(ctx));
  sendXml(
    ctx,
    200,
    document(
      'InitiateMultipartUploadResult',
      `${element('Bucket', bucket)}${element('Key', key)}${element('UploadId', upload.uploadId)}`,
    ),
  );
}

function partNumberOf(ctx: S3Context): number {
  const raw = ctx.query.get('partNumber') ?? '';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PARTS) {
    throw invalidArgument(
      'partNumber',
      raw,
      'Part number must be an integer between 1 and 10000, inclusive',
    );
  }
  return n;
}

export async function uploadPart(ctx: S3Context): Promise<void> {
  const bucket = await existingBucket(ctx);
  const key = keyOf(ctx);
  const uploadId = ctx.query.get('uploadId') ?? '';
  const partNumber = partNumberOf(ctx);
  await ctx.uploads.upload(bucket, key, uploadId);
  if (header(ctx, 'x-amz-copy-source') !== undefined)
    return uploadPartCopy(ctx, bucket, uploadId, partNumber);
  const payload = requestPayload(ctx.req, ctx.auth.payload);
  const part = await ctx.uploads.writePart(
    bucket,
    uploadId,
    partNumber,
    payload.stream,
    payload.checksum,
  );
  sendEmpty(ctx, 200, {
    etag: quoted(part.etag),
    ...(part.checksum
      ? { [`x-amz-checksum-${part.checksum.algorithm}`]: part.checksum.value }
      : {}),
  });
}

async function uploadPartCopy(
  ctx: S3Context,
  bucket: string,
  uploadId: string,
  partNumber: number,
): Promise<void> {
  const { record, handle } = await openSource(ctx, copySource(ctx));
  let part: Awaited<ReturnType<typeof ctx.uploads.writePart>>;
  try {
    const rangeHeader = header(ctx, 'x-amz-copy-source-range');
    const range = rangeHeader === undefined ? undefined : /^bytes=(\d+)-(\d+)$/.exec(rangeHeader);
    if (
      rangeHeader !== undefined &&
      (!range || Number(range[2]) < Number(range[1]) || Number(range[2]) >= record.size)
    ) {
      throw invalidArgument(
        'x-amz-copy-source-range',
        rangeHeader,
        'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      );
    }
    const stream = handle.createReadStream({
      autoClose: false,
      ...(range ? { start: Number(range[1]), end: Number(range[2]) } : {}),
    });
    part = await ctx.uploads.writePart(bucket, uploadId, partNumber, stream, () => undefined);
  } finally {
    await handle.close();
  }
  sendXml(
    ctx,
    200,
    document(
      'CopyPartResult',
      `${element('LastModified', part.lastModified)}${element('ETag', quoted(part.etag))}`,
    ),
  );
}

/** The parts a CompleteMultipartUpload document lists, in its order. */
function listedParts(body: Buffer): { partNumber: number; etag: string }[] {
  const root = parseRequestXml(body, 'CompleteMultipartUpload');
  const parts = root.Part;
  if (!Array.isArray(parts) || parts.length === 0) throw malformedXml('no <Part> elements');
  return parts.map((part: unknown) => {
    const fields = (typeof part === 'object' && part !== null ? part : {}) as Record<
      string,
      unknown
    >;
    const number = Number(fields.PartNumber);
    if (typeof fields.ETag !== 'string' || !Number.isInteger(number)) {
      throw malformedXml('a <Part> without an integer <PartNumber> and an <ETag>');
    }
    return { partNumber: number, etag: fields.ETag.trim().replace(/^"|"$/g, '') };
  });
}

const invalidPart = (partNumber: number) =>
  new S3Error(
    400,
    'InvalidPart',
    "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    { PartNumber: partNumber },
  );

export async function completeMultipartUpload(ctx: S3Context): Promise<void> {
  const bucket = await existingBucket(ctx);
  const key = keyOf(ctx);
  const uploadId = ctx.query.get('uploadId') ?? '';
  const precondition = writePrecondition(headerReader(ctx), key);
  const listed = listedParts(await readPayload(requestPayload(ctx.req, ctx.auth.payload), 4 * MIB));
  const result = (etag: string) =>
    sendXml(
      ctx,
      200,
      document(
        'CompleteMultipartUploadResult',
        `${element('Location', `/${bucket}/${key}`)}${element('Bucket', bucket)}${element('Key', key)}${element('ETag', quoted(etag))}`,
      ),
    );
  await ctx.uploads.locked(bucket, uploadId, async () => {
    const done = await ctx.uploads.completed(bucket, uploadId);
    if (done) {
      // S3 answers a repeated completion with the same parts as the first one.
      const same =
        done.key === key &&
        done.parts.length === listed.length &&
        done.parts.every(([n, etag], i) => listed[i]?.partNumber === n && listed[i]?.etag === etag);
      if (!same) throw noSuchUpload(uploadId);
      return result(done.etag);
    }
    const upload = await ctx.uploads.upload(bucket, key, uploadId);
    const stored = new Map(
      (await ctx.uploads.parts(bucket, uploadId)).map((p) => [p.partNumber, p]),
    );
    for (const [i, part] of listed.entries()) {
      const previous = listed[i - 1];
      if (previous && part.partNumber <= previous.partNumber) {
        throw new S3Error(
          400,
          'InvalidPartOrder',
          'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
        );
      }
      const found = stored.get(part.partNumber);
      if (!found || found.etag !== part.etag) throw invalidPart(part.partNumber);
    }
    const sizes = listed.map((part) => stored.get(part.partNumber)?.size ?? 0);
    for (const [i, size] of sizes.entries()) {
      if (i < sizes.length - 1 && size < MIN_PART_BYTES) {
        throw new S3Error(
          400,
          'EntityTooSmall',
          'Your proposed upload is smaller than the minimum allowed object size.',
          {
            ProposedSize: size,
            MinSizeAllowed: MIN_PART_BYTES,
            PartNumber: listed[i]?.partNumber ?? 0,
          },
        );
      }
    }
    const etag = `${createHash('md5')
      .update(Buffer.concat(listed.map((part) => Buffer.from(part.etag, 'hex'))))
      .digest('hex')}-${listed.length}`;
    const record = await ctx.store.write(
      bucket,
      key,
      ctx.uploads.concatenated(
        bucket,
        uploadId,
        listed.map((part) => part.partNumber),
      ),
      { headers: upload.headers, etag, parts: sizes, ...(precondition ? { precondition } : {}) },
    );
    await ctx.uploads.markCompleted(bucket, uploadId, {
      key,
      etag,
      parts: listed.map((part) => [part.partNumber, part.etag] as const),
    });
    ctx.notify({
      bucket,
      key,
      eventName: 'ObjectCreated:CompleteMultipartUpload',
      size: record.size,
      eTag: etag,
    });
    result(etag);
  });
}

export async function abortMultipartUpload(ctx: S3Context): Promise<void> {
  const bucket = await existingBucket(ctx);
  const uploadId = ctx.query.get('uploadId') ?? '';
  await ctx.uploads.locked(bucket, uploadId, async () => {
    await ctx.uploads.upload(bucket, keyOf(ctx), uploadId);
    await ctx.uploads.abort(bucket, uploadId);
  });
  sendEmpty(ctx, 204);
}

export async function listParts(ctx: S3Context): Promise<void> {
  const bucket = await existingBucket(ctx);
  const key = keyOf(ctx);
  const uploadId = ctx.query.get('uploadId') ?? '';
  await ctx.uploads.upload(bucket, key, uploadId);
  const marker = Number(ctx.query.get('part-number-marker') ?? '0') || 0;
  const maxParts = Math.min(1000, Number(ctx.query.get('max-parts') ?? '1000') || 1000);
  const all = (await ctx.uploads.parts(bucket, uploadId)).filter((p) => p.partNumber > marker);
  const page = all.slice(0, maxParts);
  const truncated = all.length > page.length;
  const parts = page
    .map(
      (p) =>
        `<Part>${element('PartNumber', p.partNumber)}${element('LastModified', p.lastModified)}${element('ETag', quoted(p.etag))}${element('Size', p.size)}</Part>`,
    )
    .join('');
  sendXml(
    ctx,
    200,
    document(
      'ListPartsResult',
      `${element('Bucket', bucketOf(ctx))}${element('Key', key)}${element('UploadId', uploadId)}${element('PartNumberMarker', marker)}${element('NextPartNumberMarker', page[page.length - 1]?.partNumber ?? marker)}${element('MaxParts', maxParts)}${element('IsTruncated', truncated)}${element('StorageClass', 'STANDARD')}${parts}`,
    ),
  );
}

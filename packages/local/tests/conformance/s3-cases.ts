import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetBucketNotificationConfigurationCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { type CaseContext, type ConformanceCase, errorCode } from './case.js';

const MIB = 1024 * 1024;

function s3Of(ctx: CaseContext): S3Client {
  assert.ok(ctx.s3, 'the target has no S3 endpoint');
  return ctx.s3;
}

/** `{status, code}` of the error the promise rejects with; fails when it resolves. */
async function failure(promise: Promise<unknown>): Promise<{ status?: number; code: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
    return { status: e.$metadata?.httpStatusCode, code: e.Code ?? e.name ?? String(error) };
  }
  assert.fail('the request succeeded; AWS refuses it');
}

async function put(
  ctx: CaseContext,
  key: string,
  body: string | Buffer,
  extra: Record<string, unknown> = {},
) {
  return s3Of(ctx).send(
    new PutObjectCommand({ Bucket: ctx.bucket, Key: key, Body: body, ...extra }),
  );
}

async function text(
  ctx: CaseContext,
  key: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const out = await s3Of(ctx).send(
    new GetObjectCommand({ Bucket: ctx.bucket, Key: key, ...extra }),
  );
  return (await out.Body?.transformToString('utf8')) ?? '';
}

async function listAll(ctx: CaseContext, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3Of(ctx).send(
      new ListObjectsV2Command({ Bucket: ctx.bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const item of page.Contents ?? []) if (item.Key !== undefined) keys.push(item.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** Distinct literal keys: each written with its own body, each read back as written. */
async function distinctKeys(ctx: CaseContext, keys: readonly string[]): Promise<void> {
  for (const [i, key] of keys.entries()) await put(ctx, key, `body-${i}`);
  for (const [i, key] of keys.entries())
    assert.equal(await text(ctx, key), `body-${i}`, `key ${JSON.stringify(key)}`);
}

function otherClient(
  ctx: CaseContext,
  credentials: { accessKeyId: string; secretAccessKey: string },
): S3Client {
  return new S3Client({
    endpoint: ctx.s3Endpoint,
    region: ctx.region,
    forcePathStyle: true,
    credentials,
    maxAttempts: 1,
  });
}

async function multipartParts(ctx: CaseContext, key: string, sizes: readonly number[]) {
  const s3 = s3Of(ctx);
  const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: ctx.bucket, Key: key }));
  const uploadId = created.UploadId ?? '';
  const parts: { PartNumber: number; ETag: string }[] = [];
  const bodies: Buffer[] = [];
  for (const [i, size] of sizes.entries()) {
    const body = Buffer.alloc(size, 97 + i);
    bodies.push(body);
    const out = await s3.send(
      new UploadPartCommand({
        Bucket: ctx.bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: i + 1,
        Body: body,
      }),
    );
    parts.push({ PartNumber: i + 1, ETag: out.ETag ?? '' });
  }
  return { uploadId, parts, bodies };
}

function complete(
  ctx: CaseContext,
  key: string,
  uploadId: string,
  parts: { PartNumber: number; ETag: string }[],
  extra = {},
) {
  return s3Of(ctx).send(
    new CompleteMultipartUploadCommand({
      Bucket: ctx.bucket,
      Key: key,
      UploadId: uploadId,
      MultipartUpload: { Parts: parts },
      ...extra,
    }),
  );
}

const md5 = (data: Buffer) => createHash('md5').update(data).digest();

function statusOf(ctx: CaseContext, key: string, headers: Record<string, string>, method = 'GET') {
  return ctx.raw({
    method,
    path: `/${ctx.bucket}/${encodeURIComponent(key)}`,
    headers,
    sign: ctx.credentials,
  });
}

const PAST = 'Wed, 01 Jan 2020 00:00:00 GMT';

/** The object's Last-Modified as sent (dates after the server's clock are not valid conditions). */
async function lastModified(ctx: CaseContext, key: string): Promise<string> {
  const head = await s3Of(ctx).send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: key }));
  return (head.LastModified ?? new Date()).toUTCString();
}

export const s3Cases: readonly ConformanceCase[] = [
  // ---- keys are opaque strings ----
  {
    id: 's3.keys.dot-segments',
    service: 'S3',
    documented:
      '`a/../b`, `a/./c` and `b`, `a/c` are four distinct keys (S3 User Guide, object key naming)',
    run: (ctx) =>
      distinctKeys(ctx, ['dots/a/../b.txt', 'dots/b.txt', 'dots/a/./c.txt', 'dots/a/c.txt']),
  },
  {
    id: 's3.keys.empty-segments',
    service: 'S3',
    documented: '`x//y`, `x/y` and a key ending in `/` are distinct keys',
    run: (ctx) => distinctKeys(ctx, ['empty/x//y', 'empty/x/y', 'empty/x/', 'empty//']),
  },
  {
    id: 's3.keys.leading-slash',
    service: 'S3',
    documented: 'a key may start with `/`: `/lead` and `lead` are distinct',
    run: async (ctx) => {
      await distinctKeys(ctx, ['/lead-conformance', 'lead-conformance']);
      const listed = await listAll(ctx, '/lead-conformance');
      assert.deepEqual(listed, ['/lead-conformance']);
    },
  },
  {
    id: 's3.keys.traversal-literal',
    service: 'S3',
    documented: '`../../../escaped` is a key like any other: written, read and listed as is',
    run: async (ctx) => {
      await distinctKeys(ctx, ['../../../escaped-conformance', '../escaped-conformance']);
      assert.deepEqual(await listAll(ctx, '../'), [
        '../../../escaped-conformance',
        '../escaped-conformance',
      ]);
    },
  },
  {
    id: 's3.keys.spaces',
    service: 'S3',
    documented: '` x` (leading space) and `x` are distinct keys; a trailing space too',
    run: (ctx) => distinctKeys(ctx, ['space/ x', 'space/x', 'space/x ']),
  },
  {
    id: 's3.keys.too-long',
    service: 'S3',
    documented: 'a key over 1,024 bytes of UTF-8: 400 KeyTooLongError',
    run: async (ctx) => {
      const error = await failure(put(ctx, `long/${'k'.repeat(1020)}`, 'x'));
      assert.deepEqual(error, { status: 400, code: 'KeyTooLongError' });
    },
  },
  // ---- DeleteObjects ----
  {
    id: 's3.delete-objects.exact-keys',
    service: 'S3',
    documented: 'DeleteObjects deletes exactly the keys named (XML text is not trimmed)',
    run: async (ctx) => {
      await distinctKeys(ctx, ['del/ x', 'del/x', 'del/y ']);
      const out = await s3Of(ctx).send(
        new DeleteObjectsCommand({
          Bucket: ctx.bucket,
          Delete: { Objects: [{ Key: 'del/ x' }, { Key: 'del/y ' }] },
        }),
      );
      assert.deepEqual((out.Deleted ?? []).map((d) => d.Key).sort(), ['del/ x', 'del/y ']);
      assert.deepEqual(await listAll(ctx, 'del/'), ['del/x']);
    },
  },
  {
    id: 's3.delete-objects.number-like-keys',
    service: 'S3',
    documented: 'keys that look like numbers or booleans are keys: every one is deleted',
    run: async (ctx) => {
      const keys = ['7', '2026', '007', '1.5', '1e3', 'true', '0x1A', ' 8'];
      await distinctKeys(ctx, keys);
      const out = await s3Of(ctx).send(
        new DeleteObjectsCommand({
          Bucket: ctx.bucket,
          Delete: { Objects: keys.map((Key) => ({ Key })) },
        }),
      );
      assert.deepEqual((out.Deleted ?? []).map((d) => d.Key).sort(), [...keys].sort());
      for (const key of keys) {
        assert.equal(
          (await failure(s3Of(ctx).send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: key }))))
            .status,
          404,
        );
      }
    },
  },
  {
    id: 's3.delete-objects.quiet-and-missing',
    service: 'S3',
    documented: 'a missing key is reported Deleted; Quiet mode lists only errors',
    run: async (ctx) => {
      const loud = await s3Of(ctx).send(
        new DeleteObjectsCommand({
          Bucket: ctx.bucket,
          Delete: { Objects: [{ Key: 'del-missing/none' }] },
        }),
      );
      assert.deepEqual(
        (loud.Deleted ?? []).map((d) => d.Key),
        ['del-missing/none'],
      );
      const quiet = await s3Of(ctx).send(
        new DeleteObjectsCommand({
          Bucket: ctx.bucket,
          Delete: { Quiet: true, Objects: [{ Key: 'del-missing/none' }] },
        }),
      );
      assert.equal((quiet.Deleted ?? []).length, 0);
      assert.equal((quiet.Errors ?? []).length, 0);
    },
  },
  {
    id: 's3.delete-objects.malformed-xml',
    service: 'S3',
    documented: 'a truncated Delete document: 400 MalformedXML, nothing deleted',
    run: async (ctx) => {
      await put(ctx, 'malformed/keep', 'x');
      const body = '<Delete><Object><Key>malformed/keep</Key></Object>';
      const md5Header = createHash('md5').update(body).digest('base64');
      const res = await ctx.raw({
        method: 'POST',
        path: `/${ctx.bucket}?delete`,
        body,
        headers: { 'content-md5': md5Header },
        sign: ctx.credentials,
      });
      assert.equal(res.status, 400);
      assert.equal(errorCode(res.body), 'MalformedXML');
      assert.equal(await text(ctx, 'malformed/keep'), 'x');
    },
  },
  // ---- signatures ----
  {
    id: 's3.auth.wrong-secret',
    service: 'S3',
    documented:
      'a SigV4 signature made with a wrong secret: 403 SignatureDoesNotMatch (ListBuckets, PutObject, ListObjects)',
    run: async (ctx) => {
      const client = otherClient(ctx, {
        accessKeyId: ctx.credentials.accessKeyId,
        secretAccessKey: `${ctx.credentials.secretAccessKey}-wrong`,
      });
      try {
        const calls = [
          () => client.send(new ListBucketsCommand({})),
          () => client.send(new PutObjectCommand({ Bucket: ctx.bucket, Key: 'auth/x', Body: 'x' })),
          () => client.send(new ListObjectsV2Command({ Bucket: ctx.bucket })),
        ];
        // One at a time: a call made before the previous one's assertion could go unawaited.
        for (const call of calls) {
          assert.deepEqual(await failure(call()), { status: 403, code: 'SignatureDoesNotMatch' });
        }
      } finally {
        client.destroy();
      }
    },
  },
  {
    id: 's3.auth.unknown-key',
    service: 'S3',
    documented: 'an unknown access key id: 403 InvalidAccessKeyId',
    run: async (ctx) => {
      const client = otherClient(ctx, {
        accessKeyId: 'AKIAUNKNOWNCONFORMANCE',
        secretAccessKey: 'x',
      });
      try {
        assert.deepEqual(
          await failure(client.send(new ListObjectsV2Command({ Bucket: ctx.bucket }))),
          { status: 403, code: 'InvalidAccessKeyId' },
        );
      } finally {
        client.destroy();
      }
    },
  },
  {
    id: 's3.auth.unsigned',
    service: 'S3',
    documented:
      'an anonymous PUT, GET or DELETE on a private bucket: 403 AccessDenied, nothing written',
    run: async (ctx) => {
      await put(ctx, 'anon/kept', 'kept');
      for (const [method, key] of [
        ['PUT', 'anon/new'],
        ['GET', 'anon/kept'],
        ['DELETE', 'anon/kept'],
      ] as const) {
        const res = await ctx.raw({
          method,
          path: `/${ctx.bucket}/${key}`,
          body: method === 'PUT' ? 'x' : undefined,
        });
        assert.equal(res.status, 403, `${method} ${key}`);
        assert.equal(errorCode(res.body) ?? 'AccessDenied', 'AccessDenied');
      }
      assert.equal(await text(ctx, 'anon/kept'), 'kept');
      assert.equal(
        (
          await failure(
            s3Of(ctx).send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: 'anon/new' })),
          )
        ).status,
        404,
      );
    },
  },
  {
    id: 's3.auth.payload-hash',
    service: 'S3',
    documented:
      'a body whose SHA-256 is not the signed x-amz-content-sha256: 400 XAmzContentSHA256Mismatch, nothing stored',
    run: async (ctx) => {
      const res = await ctx.raw({
        method: 'PUT',
        path: `/${ctx.bucket}/hash/x`,
        body: 'actual',
        headers: { 'x-amz-content-sha256': createHash('sha256').update('claimed').digest('hex') },
        sign: ctx.credentials,
      });
      assert.equal(res.status, 400);
      assert.equal(errorCode(res.body), 'XAmzContentSHA256Mismatch');
      assert.equal(
        (
          await failure(
            s3Of(ctx).send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: 'hash/x' })),
          )
        ).status,
        404,
      );
    },
  },
  // ---- checksums and the SDK's defaults ----
  {
    id: 's3.sdk-defaults.streamed-put',
    service: 'S3',
    documented:
      'a streamed PutObject with the SDK defaults (aws-chunked, trailing CRC32) stores the exact bytes',
    run: async (ctx) => {
      const bytes = Buffer.from('hello, streamed world\n'.repeat(5000));
      await s3Of(ctx).send(
        new PutObjectCommand({
          Bucket: ctx.bucket,
          Key: 'sdk/streamed',
          Body: Readable.from([bytes.subarray(0, 7), bytes.subarray(7)]),
          ContentLength: bytes.length,
        }),
      );
      const out = await s3Of(ctx).send(
        new GetObjectCommand({ Bucket: ctx.bucket, Key: 'sdk/streamed' }),
      );
      assert.ok(Buffer.from((await out.Body?.transformToByteArray()) ?? []).equals(bytes));
    },
  },
  {
    id: 's3.sdk-defaults.checksum-algorithms',
    service: 'S3',
    documented:
      'streamed uploads with CRC32C and SHA256 trailers store the exact bytes; GetObject returns the checksum',
    run: async (ctx) => {
      for (const algorithm of ['CRC32C', 'SHA256', 'CRC32'] as const) {
        const bytes = Buffer.from(`checksum ${algorithm} `.repeat(999));
        const key = `sdk/${algorithm}`;
        await s3Of(ctx).send(
          new PutObjectCommand({
            Bucket: ctx.bucket,
            Key: key,
            Body: Readable.from([bytes]),
            ContentLength: bytes.length,
            ChecksumAlgorithm: algorithm,
          }),
        );
        const out = await s3Of(ctx).send(
          new GetObjectCommand({ Bucket: ctx.bucket, Key: key, ChecksumMode: 'ENABLED' }),
        );
        assert.ok(
          Buffer.from((await out.Body?.transformToByteArray()) ?? []).equals(bytes),
          algorithm,
        );
        assert.ok(out[`Checksum${algorithm}`], `Checksum${algorithm} returned`);
      }
    },
  },
  {
    id: 's3.checksum.bad-trailer',
    service: 'S3',
    documented:
      'an aws-chunked upload whose trailing checksum is wrong: 400 BadDigest, nothing stored',
    run: async (ctx) => {
      const payload = Buffer.from('hello');
      const body = Buffer.concat([
        Buffer.from(`${payload.length.toString(16)}\r\n`),
        payload,
        Buffer.from('\r\n0\r\n'),
        Buffer.from('x-amz-checksum-crc32:AAAAAA==\r\n\r\n'),
      ]);
      const res = await ctx.raw({
        method: 'PUT',
        path: `/${ctx.bucket}/chunked/bad`,
        body,
        headers: {
          'content-encoding': 'aws-chunked',
          'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
          'x-amz-decoded-content-length': String(payload.length),
          'x-amz-trailer': 'x-amz-checksum-crc32',
        },
        sign: ctx.credentials,
      });
      assert.equal(res.status, 400);
      assert.equal(errorCode(res.body), 'BadDigest');
      assert.equal(
        (
          await failure(
            s3Of(ctx).send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: 'chunked/bad' })),
          )
        ).status,
        404,
      );
    },
  },
  {
    id: 's3.checksum.good-trailer',
    service: 'S3',
    documented: 'an aws-chunked upload with a right trailing CRC32: stored decoded, exact bytes',
    run: async (ctx) => {
      const payload = Buffer.from('hello chunks');
      const checksum = Buffer.alloc(4);
      checksum.writeUInt32BE(crc32(payload));
      const body = Buffer.concat([
        Buffer.from('5\r\n'),
        payload.subarray(0, 5),
        Buffer.from('\r\n'),
        Buffer.from(`${(payload.length - 5).toString(16)}\r\n`),
        payload.subarray(5),
        Buffer.from('\r\n0\r\n'),
        Buffer.from(`x-amz-checksum-crc32:${checksum.toString('base64')}\r\n\r\n`),
      ]);
      const res = await ctx.raw({
        method: 'PUT',
        path: `/${ctx.bucket}/chunked/good`,
        body,
        headers: {
          'content-encoding': 'aws-chunked',
          'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
          'x-amz-decoded-content-length': String(payload.length),
          'x-amz-trailer': 'x-amz-checksum-crc32',
        },
        sign: ctx.credentials,
      });
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(await text(ctx, 'chunked/good'), 'hello chunks');
    },
  },
  {
    id: 's3.checksum.content-md5',
    service: 'S3',
    documented: 'a Content-MD5 that does not match the body: 400 BadDigest, nothing stored',
    run: async (ctx) => {
      const error = await failure(
        put(ctx, 'md5/bad', 'actual', {
          ContentMD5: createHash('md5').update('other').digest('base64'),
        }),
      );
      assert.deepEqual(error, { status: 400, code: 'BadDigest' });
      assert.equal(
        (
          await failure(
            s3Of(ctx).send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: 'md5/bad' })),
          )
        ).status,
        404,
      );
    },
  },
  {
    id: 's3.sdk-defaults.multipart-upload',
    service: 'S3',
    documented:
      'lib-storage Upload (multipart, SDK default checksums) of a 11 MiB stream stores the exact bytes',
    run: async (ctx) => {
      const bytes = Buffer.alloc(11 * MIB);
      for (let i = 0; i < bytes.length; i += 4096) bytes.writeUInt32BE(i, i);
      await new Upload({
        client: s3Of(ctx),
        params: { Bucket: ctx.bucket, Key: 'sdk/upload', Body: Readable.from([bytes]) },
        partSize: 5 * MIB,
      }).done();
      const out = await s3Of(ctx).send(
        new GetObjectCommand({ Bucket: ctx.bucket, Key: 'sdk/upload' }),
      );
      const back = Buffer.from((await out.Body?.transformToByteArray()) ?? []);
      assert.equal(back.length, bytes.length);
      assert.ok(back.equals(bytes));
    },
  },
  // ---- ranges ----
  {
    id: 's3.range.suffix',
    service: 'S3',
    documented: '`Range: bytes=-3` is the last 3 bytes (206, Content-Range bytes 7-9/10)',
    run: async (ctx) => {
      await put(ctx, 'range/x', '0123456789');
      const out = await s3Of(ctx).send(
        new GetObjectCommand({ Bucket: ctx.bucket, Key: 'range/x', Range: 'bytes=-3' }),
      );
      assert.equal(await out.Body?.transformToString(), '789');
      assert.equal(out.ContentRange, 'bytes 7-9/10');
      assert.equal(out.$metadata.httpStatusCode, 206);
    },
  },
  {
    id: 's3.range.open-and-closed',
    service: 'S3',
    documented:
      '`bytes=6-` is from byte 6 to the end; `bytes=0-3` the first 4 bytes; an end past the size is cut',
    run: async (ctx) => {
      await put(ctx, 'range/y', '0123456789');
      assert.equal(await text(ctx, 'range/y', { Range: 'bytes=6-' }), '6789');
      assert.equal(await text(ctx, 'range/y', { Range: 'bytes=0-3' }), '0123');
      assert.equal(await text(ctx, 'range/y', { Range: 'bytes=8-100' }), '89');
    },
  },
  {
    id: 's3.range.unsatisfiable',
    service: 'S3',
    documented: 'a range starting past the end: 416 InvalidRange',
    run: async (ctx) => {
      await put(ctx, 'range/z', '0123456789');
      assert.deepEqual(await failure(text(ctx, 'range/z', { Range: 'bytes=10-' })), {
        status: 416,
        code: 'InvalidRange',
      });
    },
  },
  // ---- read conditions ----
  {
    id: 's3.get.if-match',
    service: 'S3',
    documented: 'GET/HEAD If-Match with another ETag: 412 PreconditionFailed; with the ETag: 200',
    run: async (ctx) => {
      const { ETag } = await put(ctx, 'cond/a', 'a');
      assert.equal((await statusOf(ctx, 'cond/a', { 'if-match': '"0000"' })).status, 412);
      assert.equal((await statusOf(ctx, 'cond/a', { 'if-match': '"0000"' }, 'HEAD')).status, 412);
      assert.equal((await statusOf(ctx, 'cond/a', { 'if-match': ETag ?? '' })).status, 200);
    },
  },
  {
    id: 's3.get.if-none-match',
    service: 'S3',
    documented: 'GET If-None-Match with the ETag: 304 Not Modified, with the ETag header',
    run: async (ctx) => {
      const { ETag } = await put(ctx, 'cond/b', 'b');
      const res = await statusOf(ctx, 'cond/b', { 'if-none-match': ETag ?? '' });
      assert.equal(res.status, 304);
      assert.equal(res.headers.etag, ETag);
    },
  },
  {
    id: 's3.get.if-modified-since',
    service: 'S3',
    documented: 'If-Modified-Since after the last change: 304; before it: 200',
    run: async (ctx) => {
      await put(ctx, 'cond/c', 'c');
      const since = await lastModified(ctx, 'cond/c');
      assert.equal((await statusOf(ctx, 'cond/c', { 'if-modified-since': since })).status, 304);
      assert.equal((await statusOf(ctx, 'cond/c', { 'if-modified-since': PAST })).status, 200);
    },
  },
  {
    id: 's3.get.if-unmodified-since',
    service: 'S3',
    documented: 'If-Unmodified-Since before the last change: 412; after it: 200',
    run: async (ctx) => {
      await put(ctx, 'cond/d', 'd');
      assert.equal((await statusOf(ctx, 'cond/d', { 'if-unmodified-since': PAST })).status, 412);
      const since = await lastModified(ctx, 'cond/d');
      assert.equal((await statusOf(ctx, 'cond/d', { 'if-unmodified-since': since })).status, 200);
    },
  },
  {
    id: 's3.get.condition-precedence',
    service: 'S3',
    documented:
      'If-Match true with If-Unmodified-Since false: 200; If-None-Match false with If-Modified-Since true: 304',
    run: async (ctx) => {
      const { ETag } = await put(ctx, 'cond/e', 'e');
      assert.equal(
        (await statusOf(ctx, 'cond/e', { 'if-match': ETag ?? '', 'if-unmodified-since': PAST }))
          .status,
        200,
      );
      assert.equal(
        (await statusOf(ctx, 'cond/e', { 'if-none-match': ETag ?? '', 'if-modified-since': PAST }))
          .status,
        304,
      );
    },
  },
  // ---- conditional writes ----
  {
    id: 's3.put.if-none-match-star',
    service: 'S3',
    documented:
      'PutObject If-None-Match: * on an existing key: 412 PreconditionFailed, object unchanged; on a new key: 200',
    run: async (ctx) => {
      await put(ctx, 'cw/a', 'first', { IfNoneMatch: '*' });
      assert.deepEqual(await failure(put(ctx, 'cw/a', 'second', { IfNoneMatch: '*' })), {
        status: 412,
        code: 'PreconditionFailed',
      });
      assert.equal(await text(ctx, 'cw/a'), 'first');
    },
  },
  {
    id: 's3.put.if-match',
    service: 'S3',
    documented:
      'PutObject If-Match with another ETag: 412, object unchanged; with the current ETag: 200',
    run: async (ctx) => {
      const { ETag } = await put(ctx, 'cw/b', 'first');
      assert.deepEqual(
        await failure(
          put(ctx, 'cw/b', 'second', { IfMatch: '"00000000000000000000000000000000"' }),
        ),
        { status: 412, code: 'PreconditionFailed' },
      );
      assert.equal(await text(ctx, 'cw/b'), 'first');
      await put(ctx, 'cw/b', 'third', { IfMatch: ETag });
      assert.equal(await text(ctx, 'cw/b'), 'third');
    },
  },
  {
    id: 's3.put.if-match-missing',
    service: 'S3',
    documented: 'PutObject If-Match on a key that does not exist: 404 NoSuchKey',
    run: async (ctx) => {
      assert.deepEqual(
        await failure(put(ctx, 'cw/none', 'x', { IfMatch: '"00000000000000000000000000000000"' })),
        { status: 404, code: 'NoSuchKey' },
      );
    },
  },
  {
    id: 's3.copy.conditions',
    service: 'S3',
    documented:
      'CopyObject x-amz-copy-source-if-match / -if-none-match / -if-unmodified-since / -if-modified-since that fail: 412',
    run: async (ctx) => {
      const { ETag } = await put(ctx, 'copy/src', 'source');
      const copy = (extra: Record<string, unknown>) =>
        s3Of(ctx).send(
          new CopyObjectCommand({
            Bucket: ctx.bucket,
            Key: 'copy/dst',
            CopySource: `${ctx.bucket}/copy/src`,
            ...extra,
          }),
        );
      for (const extra of [
        { CopySourceIfMatch: '"0000"' },
        { CopySourceIfNoneMatch: ETag },
        { CopySourceIfUnmodifiedSince: new Date(PAST) },
        { CopySourceIfModifiedSince: new Date(await lastModified(ctx, 'copy/src')) },
      ]) {
        assert.deepEqual(
          await failure(copy(extra)),
          { status: 412, code: 'PreconditionFailed' },
          JSON.stringify(extra),
        );
      }
      await copy({ CopySourceIfMatch: ETag });
      assert.equal(await text(ctx, 'copy/dst'), 'source');
    },
  },
  // ---- copy and metadata ----
  {
    id: 's3.copy.source-encoding',
    service: 'S3',
    documented: 'x-amz-copy-source is URL-decoded: keys with `+`, spaces, `=` and `%` copy',
    run: async (ctx) => {
      for (const key of ['copy/a+b', 'copy/a b', 'copy/dt=1/x', 'copy/100%']) {
        await put(ctx, key, key);
        await s3Of(ctx).send(
          new CopyObjectCommand({
            Bucket: ctx.bucket,
            Key: `${key}.copy`,
            CopySource: `${ctx.bucket}/${encodeURIComponent(key)}`,
          }),
        );
        assert.equal(await text(ctx, `${key}.copy`), key);
      }
    },
  },
  {
    id: 's3.copy.metadata-directive',
    service: 'S3',
    documented: 'CopyObject keeps the metadata (COPY), or replaces it (REPLACE)',
    run: async (ctx) => {
      await put(ctx, 'meta/src', 'x', { Metadata: { a: '1' }, ContentType: 'text/plain' });
      await s3Of(ctx).send(
        new CopyObjectCommand({
          Bucket: ctx.bucket,
          Key: 'meta/kept',
          CopySource: `${ctx.bucket}/meta/src`,
        }),
      );
      await s3Of(ctx).send(
        new CopyObjectCommand({
          Bucket: ctx.bucket,
          Key: 'meta/replaced',
          CopySource: `${ctx.bucket}/meta/src`,
          MetadataDirective: 'REPLACE',
          Metadata: { b: '2' },
          ContentType: 'application/json',
        }),
      );
      const kept = await s3Of(ctx).send(
        new HeadObjectCommand({ Bucket: ctx.bucket, Key: 'meta/kept' }),
      );
      assert.deepEqual(kept.Metadata, { a: '1' });
      assert.equal(kept.ContentType, 'text/plain');
      const replaced = await s3Of(ctx).send(
        new HeadObjectCommand({ Bucket: ctx.bucket, Key: 'meta/replaced' }),
      );
      assert.deepEqual(replaced.Metadata, { b: '2' });
      assert.equal(replaced.ContentType, 'application/json');
    },
  },
  {
    id: 's3.metadata.round-trip',
    service: 'S3',
    documented:
      'user metadata (names lower-cased) and Content-Type/-Encoding/-Disposition, Cache-Control come back on GET and HEAD',
    run: async (ctx) => {
      await put(ctx, 'meta/all', 'x', {
        Metadata: { 'Run-Id': 'r1', source: 's 1' },
        ContentType: 'application/x-ndjson',
        ContentEncoding: 'identity',
        ContentDisposition: 'attachment; filename="x"',
        CacheControl: 'no-store',
      });
      const head = await s3Of(ctx).send(
        new HeadObjectCommand({ Bucket: ctx.bucket, Key: 'meta/all' }),
      );
      assert.deepEqual(head.Metadata, { 'run-id': 'r1', source: 's 1' });
      assert.equal(head.ContentType, 'application/x-ndjson');
      assert.equal(head.ContentEncoding, 'identity');
      assert.equal(head.ContentDisposition, 'attachment; filename="x"');
      assert.equal(head.CacheControl, 'no-store');
      assert.equal(head.ContentLength, 1);
      const get = await s3Of(ctx).send(
        new GetObjectCommand({
          Bucket: ctx.bucket,
          Key: 'meta/all',
          ResponseContentType: 'text/plain',
        }),
      );
      assert.equal(get.ContentType, 'text/plain');
      await get.Body?.transformToString();
    },
  },
  {
    id: 's3.errors.no-such-key',
    service: 'S3',
    documented:
      'GET of a missing key: 404 NoSuchKey with an XML body carrying Key and RequestId; HEAD: 404 without body',
    run: async (ctx) => {
      const res = await ctx.raw({
        method: 'GET',
        path: `/${ctx.bucket}/missing/key`,
        sign: ctx.credentials,
      });
      assert.equal(res.status, 404);
      assert.equal(errorCode(res.body), 'NoSuchKey');
      assert.match(res.body.toString(), /<RequestId>[^<]+<\/RequestId>/);
      assert.ok(res.headers['x-amz-request-id']);
      assert.equal(
        (
          await failure(
            s3Of(ctx).send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: 'missing/key' })),
          )
        ).status,
        404,
      );
    },
  },
  // ---- listing ----
  {
    id: 's3.list.delimiter-max-keys',
    service: 'S3',
    documented:
      'ListObjectsV2 with a Delimiter: each CommonPrefix counts toward MaxKeys and KeyCount; prefixes page like keys',
    run: async (ctx) => {
      for (const key of ['ld/a/1', 'ld/a/2', 'ld/b/1', 'ld/c/1', 'ld/d', 'ld/e/1', 'ld/f'])
        await put(ctx, key, 'x');
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await s3Of(ctx).send(
          new ListObjectsV2Command({
            Bucket: ctx.bucket,
            Prefix: 'ld/',
            Delimiter: '/',
            MaxKeys: 2,
            ContinuationToken: token,
          }),
        );
        pages += 1;
        const items = [
          ...(page.CommonPrefixes ?? []).map((p) => p.Prefix ?? ''),
          ...(page.Contents ?? []).map((c) => c.Key ?? ''),
        ];
        assert.ok(items.length <= 2, `page ${pages} has ${items.length} items`);
        assert.equal(page.KeyCount, items.length);
        seen.push(...items);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token && pages < 10);
      assert.deepEqual(seen.sort(), ['ld/a/', 'ld/b/', 'ld/c/', 'ld/d', 'ld/e/', 'ld/f']);
      assert.equal(pages, 3);
    },
  },
  {
    id: 's3.list.start-after-and-order',
    service: 'S3',
    documented: 'keys are listed in UTF-8 binary order; StartAfter starts after the given key',
    run: async (ctx) => {
      const keys = ['lo/Z', 'lo/a', 'lo/é', 'lo/~', 'lo/a/b', 'lo/a-b'];
      for (const key of keys) await put(ctx, key, 'x');
      const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      assert.deepEqual(await listAll(ctx, 'lo/'), sorted);
      const after = await s3Of(ctx).send(
        new ListObjectsV2Command({ Bucket: ctx.bucket, Prefix: 'lo/', StartAfter: 'lo/a' }),
      );
      assert.deepEqual(
        (after.Contents ?? []).map((c) => c.Key),
        sorted.slice(sorted.indexOf('lo/a') + 1),
      );
    },
  },
  {
    id: 's3.list.encoding-type-url',
    service: 'S3',
    documented: 'with encoding-type=url, a key holding a control character is listed URL-encoded',
    run: async (ctx) => {
      await put(ctx, 'enc/ctl\u0001key', 'x');
      await put(ctx, 'enc/plain key', 'x');
      const page = await s3Of(ctx).send(
        new ListObjectsV2Command({ Bucket: ctx.bucket, Prefix: 'enc/', EncodingType: 'url' }),
      );
      const keys = (page.Contents ?? []).map((c) =>
        decodeURIComponent((c.Key ?? '').replace(/\+/g, ' ')),
      );
      assert.deepEqual(keys.sort(), ['enc/ctl\u0001key', 'enc/plain key']);
      assert.ok((page.Contents ?? []).some((c) => c.Key?.includes('%01')));
    },
  },
  {
    id: 's3.list.v1-markers',
    service: 'S3',
    documented:
      'ListObjects (v1) pages with Marker; with a Delimiter, NextMarker is given when truncated',
    run: async (ctx) => {
      for (const key of ['v1/a', 'v1/b', 'v1/c/1', 'v1/d']) await put(ctx, key, 'x');
      const first = await s3Of(ctx).send(
        new ListObjectsCommand({ Bucket: ctx.bucket, Prefix: 'v1/', Delimiter: '/', MaxKeys: 2 }),
      );
      assert.equal(first.IsTruncated, true);
      assert.deepEqual(
        (first.Contents ?? []).map((c) => c.Key),
        ['v1/a', 'v1/b'],
      );
      const second = await s3Of(ctx).send(
        new ListObjectsCommand({
          Bucket: ctx.bucket,
          Prefix: 'v1/',
          Delimiter: '/',
          Marker: first.NextMarker,
        }),
      );
      assert.deepEqual(
        (second.CommonPrefixes ?? []).map((p) => p.Prefix),
        ['v1/c/'],
      );
      assert.deepEqual(
        (second.Contents ?? []).map((c) => c.Key),
        ['v1/d'],
      );
    },
  },
  {
    id: 's3.list.object-versions-unversioned',
    service: 'S3',
    documented:
      'ListObjectVersions on a bucket without versioning lists each object once, VersionId "null", IsLatest',
    run: async (ctx) => {
      await put(ctx, 'ver/a', 'x');
      const out = await s3Of(ctx).send(
        new ListObjectVersionsCommand({ Bucket: ctx.bucket, Prefix: 'ver/' }),
      );
      assert.deepEqual(
        (out.Versions ?? []).map((v) => [v.Key, v.VersionId, v.IsLatest]),
        [['ver/a', 'null', true]],
      );
    },
  },
  // ---- multipart ----
  {
    id: 's3.multipart.missing-part',
    service: 'S3',
    documented:
      'CompleteMultipartUpload listing a part never uploaded: 400 InvalidPart (and the server stays up)',
    run: async (ctx) => {
      const { uploadId, parts } = await multipartParts(ctx, 'mp/missing', [10]);
      const error = await failure(
        complete(ctx, 'mp/missing', uploadId, [
          ...parts,
          { PartNumber: 2, ETag: parts[0]?.ETag ?? '' },
        ]),
      );
      assert.deepEqual(error, { status: 400, code: 'InvalidPart' });
      await s3Of(ctx).send(new ListBucketsCommand({}));
    },
  },
  {
    id: 's3.multipart.wrong-etag',
    service: 'S3',
    documented: 'CompleteMultipartUpload with a part ETag that does not match: 400 InvalidPart',
    run: async (ctx) => {
      const { uploadId } = await multipartParts(ctx, 'mp/etag', [10]);
      assert.deepEqual(
        await failure(
          complete(ctx, 'mp/etag', uploadId, [
            { PartNumber: 1, ETag: '"00000000000000000000000000000000"' },
          ]),
        ),
        { status: 400, code: 'InvalidPart' },
      );
    },
  },
  {
    id: 's3.multipart.part-order',
    service: 'S3',
    documented: 'a part list out of ascending order or with a part twice: 400 InvalidPartOrder',
    run: async (ctx) => {
      const { uploadId, parts } = await multipartParts(ctx, 'mp/order', [5 * MIB, 5 * MIB]);
      const [one, two] = parts as [
        { PartNumber: number; ETag: string },
        { PartNumber: number; ETag: string },
      ];
      assert.deepEqual(await failure(complete(ctx, 'mp/order', uploadId, [two, one])), {
        status: 400,
        code: 'InvalidPartOrder',
      });
      assert.deepEqual(await failure(complete(ctx, 'mp/order', uploadId, [one, one, two])), {
        status: 400,
        code: 'InvalidPartOrder',
      });
    },
  },
  {
    id: 's3.multipart.entity-too-small',
    service: 'S3',
    documented: 'a part other than the last under 5 MiB: 400 EntityTooSmall at completion',
    run: async (ctx) => {
      const { uploadId, parts } = await multipartParts(ctx, 'mp/small', [10, 10]);
      assert.deepEqual(await failure(complete(ctx, 'mp/small', uploadId, parts)), {
        status: 400,
        code: 'EntityTooSmall',
      });
    },
  },
  {
    id: 's3.multipart.etag-and-parts',
    service: 'S3',
    documented:
      'the object ETag is "<md5 of the parts\' binary MD5s>-<count>"; HEAD partNumber gives the part and x-amz-mp-parts-count; completing again gives the same ETag',
    run: async (ctx) => {
      const { uploadId, parts, bodies } = await multipartParts(ctx, 'mp/etag-ok', [5 * MIB, 7]);
      const done = await complete(ctx, 'mp/etag-ok', uploadId, parts);
      const expected = `"${createHash('md5')
        .update(Buffer.concat(bodies.map(md5)))
        .digest('hex')}-2"`;
      assert.equal(done.ETag, expected);
      const head = await s3Of(ctx).send(
        new HeadObjectCommand({ Bucket: ctx.bucket, Key: 'mp/etag-ok', PartNumber: 2 }),
      );
      assert.equal(head.ContentLength, 7);
      assert.equal(head.PartsCount, 2);
      const again = await complete(ctx, 'mp/etag-ok', uploadId, parts);
      assert.equal(again.ETag, expected);
      const whole = await s3Of(ctx).send(
        new GetObjectCommand({ Bucket: ctx.bucket, Key: 'mp/etag-ok' }),
      );
      const back = Buffer.from((await whole.Body?.transformToByteArray()) ?? []);
      assert.ok(back.equals(Buffer.concat(bodies)));
    },
  },
  {
    id: 's3.multipart.unknown-upload',
    service: 'S3',
    documented: 'Complete, UploadPart or Abort with an unknown upload id: 404 NoSuchUpload',
    run: async (ctx) => {
      const id = 'bm9zdWNodXBsb2Fk';
      assert.deepEqual(
        await failure(complete(ctx, 'mp/none', id, [{ PartNumber: 1, ETag: '"x"' }])),
        { status: 404, code: 'NoSuchUpload' },
      );
      assert.deepEqual(
        await failure(
          s3Of(ctx).send(
            new AbortMultipartUploadCommand({ Bucket: ctx.bucket, Key: 'mp/none', UploadId: id }),
          ),
        ),
        { status: 404, code: 'NoSuchUpload' },
      );
    },
  },
  {
    id: 's3.multipart.abort-and-list',
    service: 'S3',
    documented:
      'ListMultipartUploads lists an open upload, ListParts its parts; AbortMultipartUpload answers 204 and the upload is gone',
    run: async (ctx) => {
      const { uploadId } = await multipartParts(ctx, 'mpl/open', [10]);
      const listed = await s3Of(ctx).send(
        new ListMultipartUploadsCommand({ Bucket: ctx.bucket, Prefix: 'mpl/' }),
      );
      assert.deepEqual(
        (listed.Uploads ?? []).map((u) => [u.Key, u.UploadId]),
        [['mpl/open', uploadId]],
      );
      const partList = await s3Of(ctx).send(
        new ListPartsCommand({ Bucket: ctx.bucket, Key: 'mpl/open', UploadId: uploadId }),
      );
      assert.deepEqual(
        (partList.Parts ?? []).map((p) => [p.PartNumber, p.Size]),
        [[1, 10]],
      );
      const aborted = await s3Of(ctx).send(
        new AbortMultipartUploadCommand({
          Bucket: ctx.bucket,
          Key: 'mpl/open',
          UploadId: uploadId,
        }),
      );
      assert.equal(aborted.$metadata.httpStatusCode, 204);
      const after = await s3Of(ctx).send(
        new ListMultipartUploadsCommand({ Bucket: ctx.bucket, Prefix: 'mpl/' }),
      );
      assert.equal((after.Uploads ?? []).length, 0);
    },
  },
  {
    id: 's3.multipart.upload-part-copy',
    service: 'S3',
    documented: 'UploadPartCopy copies (a range of) an object into a part',
    run: async (ctx) => {
      await put(ctx, 'mpc/src', '0123456789');
      const created = await s3Of(ctx).send(
        new CreateMultipartUploadCommand({ Bucket: ctx.bucket, Key: 'mpc/dst' }),
      );
      const part = await s3Of(ctx).send(
        new UploadPartCopyCommand({
          Bucket: ctx.bucket,
          Key: 'mpc/dst',
          UploadId: created.UploadId,
          PartNumber: 1,
          CopySource: `${ctx.bucket}/mpc/src`,
          CopySourceRange: 'bytes=2-5',
        }),
      );
      await complete(ctx, 'mpc/dst', created.UploadId ?? '', [
        { PartNumber: 1, ETag: part.CopyPartResult?.ETag ?? '' },
      ]);
      assert.equal(await text(ctx, 'mpc/dst'), '2345');
    },
  },
  {
    id: 's3.multipart.if-none-match',
    service: 'S3',
    documented:
      'CompleteMultipartUpload with If-None-Match: * on an existing key: 412 PreconditionFailed',
    run: async (ctx) => {
      await put(ctx, 'mp/exists', 'x');
      const { uploadId, parts } = await multipartParts(ctx, 'mp/exists', [10]);
      assert.deepEqual(
        await failure(complete(ctx, 'mp/exists', uploadId, parts, { IfNoneMatch: '*' })),
        { status: 412, code: 'PreconditionFailed' },
      );
      assert.equal(await text(ctx, 'mp/exists'), 'x');
    },
  },
  // ---- buckets ----
  {
    id: 's3.bucket.create-owned',
    service: 'S3',
    documented:
      'CreateBucket of a bucket you own, in us-east-1: 200 (elsewhere BucketAlreadyOwnedByYou)',
    run: async (ctx) => {
      const out = await s3Of(ctx).send(new CreateBucketCommand({ Bucket: ctx.bucket }));
      assert.equal(out.$metadata.httpStatusCode, 200);
    },
  },
  {
    id: 's3.bucket.head-and-location',
    service: 'S3',
    documented:
      'HeadBucket: 200 for the bucket, 404 for a missing one; GetBucketLocation in us-east-1: empty LocationConstraint',
    run: async (ctx) => {
      await s3Of(ctx).send(new HeadBucketCommand({ Bucket: ctx.bucket }));
      assert.equal(
        (await failure(s3Of(ctx).send(new HeadBucketCommand({ Bucket: `${ctx.bucket}-missing` }))))
          .status,
        404,
      );
      const location = await s3Of(ctx).send(new GetBucketLocationCommand({ Bucket: ctx.bucket }));
      assert.ok(!location.LocationConstraint);
    },
  },
  {
    id: 's3.bucket.versioning',
    service: 'S3',
    documented: 'PutBucketVersioning Enabled: 200, and GetBucketVersioning then answers Enabled',
    localDivergence:
      'versioning is not emulated (the pipeline never uses it): PutBucketVersioning is refused with 501 NotImplemented, GetBucketVersioning answers unversioned',
    run: async (ctx) => {
      const bucket = `${ctx.bucket}-versioned`;
      await s3Of(ctx).send(new CreateBucketCommand({ Bucket: bucket }));
      await s3Of(ctx).send(
        new PutBucketVersioningCommand({
          Bucket: bucket,
          VersioningConfiguration: { Status: 'Enabled' },
        }),
      );
      const out = await s3Of(ctx).send(new GetBucketVersioningCommand({ Bucket: bucket }));
      assert.equal(out.Status, 'Enabled');
    },
  },
  {
    id: 's3.bucket.notification-configuration',
    service: 'S3',
    documented:
      'GetBucketNotificationConfiguration returns the configuration: ObjectCreated under raw/ to a function; an empty one on a bucket without',
    run: async (ctx) => {
      assert.ok(ctx.notifiedBucket, 'the target has no notified bucket');
      const out = await s3Of(ctx).send(
        new GetBucketNotificationConfigurationCommand({ Bucket: ctx.notifiedBucket }),
      );
      const lambda = out.LambdaFunctionConfigurations ?? [];
      assert.equal(lambda.length, 1);
      assert.deepEqual(lambda[0]?.Events, ['s3:ObjectCreated:*']);
      assert.deepEqual(
        lambda[0]?.Filter?.Key?.FilterRules?.map((r) => [r.Name?.toLowerCase(), r.Value]),
        [['prefix', 'raw/']],
      );
      assert.match(lambda[0]?.LambdaFunctionArn ?? '', /^arn:aws:lambda:/);
      const none = await s3Of(ctx).send(
        new GetBucketNotificationConfigurationCommand({ Bucket: ctx.bucket }),
      );
      assert.equal((none.LambdaFunctionConfigurations ?? []).length, 0);
    },
  },
];

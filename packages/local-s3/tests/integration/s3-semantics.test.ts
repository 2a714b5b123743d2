import { rm } from 'node:fs/promises';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLocalS3Client,
  LOCAL_S3_CREDENTIALS,
  type LocalS3,
  rawS3Request,
} from '../../src/index.js';
import { startQuietS3, tempHome } from '../helpers/server.js';

/** S3 behaviours the pipeline relies on: copy-source decoding, long keys, conditional writes. */
const BUCKET = 'fanout-semantics';
let home: string;
let s3: LocalS3;
let client: S3Client;

beforeAll(async () => {
  home = await tempHome('semantics');
  s3 = await startQuietS3(home, BUCKET);
  client = createLocalS3Client(s3.endpoint);
});

afterAll(async () => {
  client.destroy();
  await s3.stop();
  await rm(home, { recursive: true, force: true });
});

async function bodyOf(key: string): Promise<string> {
  const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return (await out.Body?.transformToString('utf8')) ?? '';
}

async function put(key: string, body: string, meta: Record<string, string> = {}): Promise<void> {
  await client.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: key,
      Body: body,
      ContentType: 'application/json',
      Metadata: meta,
    }),
  );
}

async function errorOf(promise: Promise<unknown>): Promise<S3ServiceException> {
  const caught = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(caught instanceof S3ServiceException)) {
    throw new Error(`expected an S3 error, got ${String(caught)}`);
  }
  return caught;
}

/**
 * The copy source as the parser writes it (packages/parser, `copySource`): each
 * segment percent-encoded except `= : @ , ; $ &`, which stay literal.
 */
function pipelineCopySource(bucket: string, key: string): string {
  const encoded = key
    .split('/')
    .map((segment) =>
      encodeURIComponent(segment).replace(/%(3D|3A|40|2C|3B|24|26)/g, (sequence) =>
        decodeURIComponent(sequence),
      ),
    )
    .join('/');
  return `${bucket}/${encoded}`;
}

/** Every UTF-8 byte as %XX, letters and slashes included: the most encoded form a client may send. */
function percentEncodeAll(text: string): string {
  return [...Buffer.from(text)]
    .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
    .join('');
}

/** A signed path-style request, so the header goes out exactly as written. */
async function rawRequest(
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  const answer = await rawS3Request(s3.endpoint, s3.region, {
    method,
    path,
    headers,
    sign: LOCAL_S3_CREDENTIALS,
  });
  return { status: answer.status, body: answer.body.toString('utf8') };
}

const AWKWARD_KEYS = [
  'raw/source=demo/dt=2026-11-29/hop=1.json',
  'odd/plus+sign.json',
  'odd/with space.json',
  'odd/question?mark.json',
  'odd/hash#tag.json',
  'odd/percent%41%zz.json',
  'odd/ünïcödé/日本語/🎉.json',
  'odd/all =+?#%& together.json',
];

describe('CopyObject decodes x-amz-copy-source as S3 does', () => {
  it.each(AWKWARD_KEYS)(
    'copies %j named by the SDK with encodeURIComponent per segment',
    async (key) => {
      // Prepare
      await put(key, `{"key":${JSON.stringify(key)}}`, { origin: 'sdk' });
      const encoded = key.split('/').map(encodeURIComponent).join('/');
      const destination = `copies/sdk/${key}`;

      // Act
      await client.send(
        new CopyObjectCommand({
          Bucket: BUCKET,
          Key: destination,
          CopySource: `${BUCKET}/${encoded}`,
        }),
      );

      // Assess: bytes and metadata came from the source.
      expect(await bodyOf(destination)).toBe(`{"key":${JSON.stringify(key)}}`);
      const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: destination }));
      expect(head.Metadata).toEqual({ origin: 'sdk' });
      expect(head.ContentType).toBe('application/json');
    },
  );

  it.each(AWKWARD_KEYS)(
    'copies %j named with the parser’s own copy source (= kept literal)',
    async (key) => {
      await put(key, `parser:${key}`);
      const destination = `copies/parser/${key}`;

      await client.send(
        new CopyObjectCommand({
          Bucket: BUCKET,
          Key: destination,
          CopySource: pipelineCopySource(BUCKET, key),
        }),
      );

      expect(await bodyOf(destination)).toBe(`parser:${key}`);
    },
  );

  it.each(AWKWARD_KEYS)(
    'copies %j named by a raw request with every byte percent-encoded',
    async (key) => {
      // Prepare
      await put(key, `raw:${key}`);
      const destination = `copies/raw/${key}`;
      const destinationPath = `/${BUCKET}/${destination.split('/').map(encodeURIComponent).join('/')}`;

      // Act
      const answer = await rawRequest('PUT', destinationPath, {
        'x-amz-copy-source': `/${BUCKET}/${percentEncodeAll(key)}`,
      });

      // Assess
      expect(answer.status).toBe(200);
      expect(answer.body).toContain('<CopyObjectResult');
      expect(await bodyOf(destination)).toBe(`raw:${key}`);
    },
  );

  it('keeps a literal + a plus, and ends the source at an unencoded ?', async () => {
    // Prepare: "a+b" and "a b" both exist; a literal '+' must name the first.
    await put('plus/a+b', 'plus');
    await put('plus/a b', 'space');

    // Act
    const plus = await rawRequest('PUT', `/${BUCKET}/plus/copied-plus`, {
      'x-amz-copy-source': `${BUCKET}/plus/a+b`,
    });
    // S3 reads '?versionId=...' after the key as the version, not as part of the key.
    const versioned = await rawRequest('PUT', `/${BUCKET}/plus/copied-versioned`, {
      'x-amz-copy-source': `${BUCKET}/plus/a%20b?versionId=null`,
    });

    // Assess
    expect(plus.status).toBe(200);
    expect(await bodyOf('plus/copied-plus')).toBe('plus');
    expect(versioned.status).toBe(200);
    expect(await bodyOf('plus/copied-versioned')).toBe('space');
  });

  it('answers 400 InvalidArgument to a copy source with a malformed escape', async () => {
    const answer = await rawRequest('PUT', `/${BUCKET}/bad/copy`, {
      'x-amz-copy-source': `${BUCKET}/bad/%E0%A4%A`,
    });

    expect(answer.status).toBe(400);
    expect(answer.body).toContain('<Code>InvalidArgument</Code>');
  });
});

describe('keys up to 1,024 bytes', () => {
  // One 400-byte segment of 2-byte characters (over any file-name limit with s3rver's
  // suffixes), one of plain ASCII, and a last segment long enough to reach exactly 1,024 bytes.
  const longDirectory = 'é'.repeat(200);
  const longPrefix = `long/${longDirectory}/${'d'.repeat(230)}/`;
  const fill = 1024 - Buffer.byteLength(longPrefix);
  const longKey = `${longPrefix}${'f'.repeat(fill - 5)}.json`;

  it('PUTs, GETs, HEADs, LISTs, COPYs and DELETEs a key of exactly 1,024 bytes', async () => {
    // Prepare
    expect(Buffer.byteLength(longKey)).toBe(1024);
    const sibling = `${longPrefix}short.json`;
    const copy = `long/copy-${'c'.repeat(900)}`;

    // Act + Assess, operation by operation.
    await put(longKey, '{"long":true}', { size: 'max' });
    await put(sibling, '{"short":true}');
    expect(await bodyOf(longKey)).toBe('{"long":true}');

    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: longKey }));
    expect(head.ContentLength).toBe(13);
    expect(head.Metadata).toEqual({ size: 'max' });

    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'long/' }));
    expect(listed.Contents?.map((item) => item.Key)).toEqual([longKey, sibling].sort());
    const byDelimiter = await client.send(
      new ListObjectsV2Command({
        Bucket: BUCKET,
        Prefix: `long/${longDirectory}/`,
        Delimiter: '/',
      }),
    );
    expect(byDelimiter.CommonPrefixes?.map((item) => item.Prefix)).toEqual([longPrefix]);
    const underLongPrefix = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${longPrefix}fff` }),
    );
    expect(underLongPrefix.Contents?.map((item) => item.Key)).toEqual([longKey]);

    await client.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: copy,
        CopySource: `${BUCKET}/${longKey.split('/').map(encodeURIComponent).join('/')}`,
      }),
    );
    expect(await bodyOf(copy)).toBe('{"long":true}');

    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: longKey }));
    const missing = await errorOf(
      client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: longKey })),
    );
    expect(missing.$metadata.httpStatusCode).toBe(404);
    const after = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'long/' }));
    expect(after.Contents?.map((item) => item.Key)).toEqual([copy, sibling].sort());
  });

  it('lists long and short keys in S3 order (UTF-8 bytes), paging with StartAfter', async () => {
    // Prepare: keys whose folders sort differently from the keys themselves.
    const keys = [
      `order/${'z'.repeat(250)}`,
      'order/a/b',
      'order/a-c',
      `order/${'a'.repeat(300)}/x`,
      'order/é',
    ];
    for (const key of keys) await put(key, key);
    const expected = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

    // Act
    const all = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'order/' }));
    const rest = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'order/', StartAfter: expected[1] }),
    );

    // Assess
    expect(all.Contents?.map((item) => item.Key)).toEqual(expected);
    expect(rest.Contents?.map((item) => item.Key)).toEqual(expected.slice(2));
  });

  it('answers 400 KeyTooLongError to a key of 1,025 bytes, for a write and a read', async () => {
    const key = `long/${'k'.repeat(1020)}`;
    expect(Buffer.byteLength(key)).toBe(1025);

    const putError = await errorOf(put(key, 'too long'));
    const getError = await errorOf(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key })));

    expect(putError.name).toBe('KeyTooLongError');
    expect(putError.$metadata.httpStatusCode).toBe(400);
    expect(getError.name).toBe('KeyTooLongError');
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'long/k' }),
    );
    expect(listed.KeyCount).toBe(0);
  });
});

describe('conditional writes', () => {
  it('answers 412 PreconditionFailed to PutObject with If-None-Match: * on an existing key', async () => {
    // Prepare
    const key = 'runs/r1/manifest.json';
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: '{"first":true}', IfNoneMatch: '*' }),
    );

    // Act
    const error = await errorOf(
      client.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: key,
          Body: '{"second":true}',
          IfNoneMatch: '*',
        }),
      ),
    );

    // Assess: refused, and the first write stays.
    expect(error.name).toBe('PreconditionFailed');
    expect(error.$metadata.httpStatusCode).toBe(412);
    expect(await bodyOf(key)).toBe('{"first":true}');
  });

  it('lets exactly one of many racing conditional writes of a new key win', async () => {
    const key = 'runs/r2/manifest.json';

    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        client.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: key,
            Body: `{"writer":${i}}`,
            IfNoneMatch: '*',
          }),
        ),
      ),
    );

    const winners = outcomes.flatMap((outcome, i) => (outcome.status === 'fulfilled' ? [i] : []));
    expect(winners).toHaveLength(1);
    expect(await bodyOf(key)).toBe(`{"writer":${winners[0]}}`);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        expect((outcome.reason as S3ServiceException).$metadata.httpStatusCode).toBe(412);
      }
    }
  });

  it('still overwrites without the condition', async () => {
    const key = 'runs/r3/manifest.json';
    await put(key, 'one');

    await put(key, 'two');

    expect(await bodyOf(key)).toBe('two');
  });
});

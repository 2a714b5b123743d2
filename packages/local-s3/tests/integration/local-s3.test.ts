import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { decodeS3EventKey, type NotificationRule, parseS3Event, topology } from '@fanout/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createLocalS3Client,
  type LocalS3,
  type LocalS3Options,
  type S3Event,
  startLocalS3,
} from '../../src/index.js';

const BUCKET = 'fanout-local-test';
let home: string;
const running: LocalS3[] = [];

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'fanout-local-s3-'));
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((s3) => s3.stop()));
  await rm(home, { recursive: true, force: true });
});

async function start(
  overrides: Partial<LocalS3Options> = {},
): Promise<{ s3: LocalS3; client: S3Client; events: S3Event[] }> {
  const events: S3Event[] = [];
  const s3 = await startLocalS3({
    home,
    bucket: BUCKET,
    notification: topology.notification,
    deliver: async (event) => {
      events.push(event);
    },
    ...overrides,
  });
  running.push(s3);
  return { s3, client: createLocalS3Client(s3.endpoint), events };
}

async function bodyText(client: S3Client, key: string): Promise<string> {
  const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return (await out.Body?.transformToString('utf8')) ?? '';
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

describe('S3 notification bridge', () => {
  it('delivers a key with spaces, +, % and unicode encoded as S3 does, decoding to the stored key', async () => {
    // Prepare
    const { s3, client, events } = await start();
    const key = 'raw/source=demo/dt=2026-11-25/a b+c%d é🎉.json';

    // Act
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: '{"ok":true}' }));
    await s3.drained();

    // Assess
    expect(events).toHaveLength(1);
    const record = events[0]?.Records[0];
    expect(record?.s3.object.key).toBe(
      'raw/source%3Ddemo/dt%3D2026-11-25/a+b%2Bc%25d+%C3%A9%F0%9F%8E%89.json',
    );
    const parsed = parseS3Event(events[0]);
    expect(parsed.invalid).toEqual([]);
    expect(parsed.objects[0]?.key).toBe(key);
    expect(decodeS3EventKey(record?.s3.object.key ?? '')).toBe(key);
    expect(await bodyText(client, parsed.objects[0]?.key ?? '')).toBe('{"ok":true}');
  });

  it('builds the record field for field as S3 sends it', async () => {
    const { s3, client, events } = await start({ region: 'eu-west-1' });
    const body = 'line one\nline two\n';

    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'raw/x.txt', Body: body }));
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'raw/x.txt', Body: 'again' }));
    await s3.drained();

    expect(events.map((event) => event.Records.length)).toEqual([1, 1]);
    const [first, second] = events.map((event) => event.Records[0]);
    expect(first).toMatchObject({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'eu-west-1',
      eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: expect.stringMatching(/^AWS:/) },
      requestParameters: { sourceIPAddress: '127.0.0.1' },
      responseElements: {
        'x-amz-request-id': expect.any(String),
        'x-amz-id-2': expect.any(String),
      },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: expect.any(String),
        bucket: {
          name: BUCKET,
          ownerIdentity: { principalId: expect.any(String) },
          arn: `arn:aws:s3:::${BUCKET}`,
        },
        object: { key: 'raw/x.txt', size: Buffer.byteLength(body), eTag: md5(body) },
      },
    });
    expect(new Date(first?.eventTime ?? '').toISOString()).toBe(first?.eventTime);
    // Sequencers order the events of one key: same length, lexicographically increasing.
    const earlier = first?.s3.object.sequencer ?? '';
    const later = second?.s3.object.sequencer ?? '';
    expect(earlier).toMatch(/^[0-9A-F]{18}$/);
    expect(later.length).toBe(earlier.length);
    expect(later > earlier).toBe(true);
  });

  it('filters by event, prefix and suffix on the decoded key', async () => {
    const rule: NotificationRule = {
      function: 'parser',
      events: ['s3:ObjectCreated:Put'],
      prefix: 'raw/a b/',
      suffix: '.json',
    };
    const { s3, client, events } = await start({ notification: rule });

    for (const key of ['raw/a b/1.json', 'raw/a b/2.csv', 'raw/a+b/3.json', 'parsed/a b/4.json']) {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
    }
    await client.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: 'raw/a b/5.json',
        CopySource: `${BUCKET}/raw/a%20b/1.json`,
      }),
    );
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'raw/a b/1.json' }));
    await s3.drained();

    expect(events.map((event) => event.Records[0]?.s3.object.key)).toEqual(['raw/a+b/1.json']);
    expect(s3.stats().notificationsFiltered).toBe(4);
  });

  it('reports copies with their ETag and multipart uploads as CompleteMultipartUpload', async () => {
    const { s3, client, events } = await start();
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'manifest/a', Body: 'copied' }));

    await client.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: 'raw/copy.txt',
        CopySource: `${BUCKET}/manifest/a`,
      }),
    );
    const upload = await client.send(
      new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'raw/multi part.txt' }),
    );
    const part = await client.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: 'raw/multi part.txt',
        UploadId: upload.UploadId,
        PartNumber: 1,
        Body: 'only part',
      }),
    );
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: 'raw/multi part.txt',
        UploadId: upload.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    await s3.drained();

    const records = events.map((event) => event.Records[0]);
    expect(records.map((record) => [record?.eventName, record?.s3.object.key])).toEqual([
      ['ObjectCreated:Copy', 'raw/copy.txt'],
      ['ObjectCreated:CompleteMultipartUpload', 'raw/multi+part.txt'],
    ]);
    expect(records[0]?.s3.object.eTag).toBe(md5('copied'));
    expect(await bodyText(client, 'raw/multi part.txt')).toBe('only part');
  });

  it('counts an event as pending until the target accepts it, retrying refusals', async () => {
    let refusals = 2;
    const accepted: S3Event[] = [];
    const { s3, client } = await start({
      deliveryRetryDelaysMs: [5, 5, 5],
      deliver: async (event) => {
        if (refusals > 0) {
          refusals -= 1;
          throw new Error('throttled');
        }
        accepted.push(event);
      },
    });

    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'raw/r.json', Body: '1' }));
    const pendingAfterWrite = s3.pendingNotifications();
    await s3.drained();

    expect(pendingAfterWrite).toBe(1);
    expect(accepted).toHaveLength(1);
    expect(s3.pendingNotifications()).toBe(0);
    expect(s3.stats()).toMatchObject({ notificationsDelivered: 1, notificationsFailed: 0 });
  });

  it('gives up after the last retry and reports the dropped event', async () => {
    const dropped: string[] = [];
    const { s3, client } = await start({
      deliveryRetryDelaysMs: [1, 1],
      deliver: () => Promise.reject(new Error('no such function')),
      onDeliveryError: (error) => dropped.push(error.message),
    });

    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'raw/gone.json', Body: '1' }));
    await s3.drained();

    expect(dropped).toEqual([
      'notification for "raw/gone.json" not delivered after 3 attempts: no such function',
    ]);
    expect(s3.stats()).toMatchObject({ notificationsDelivered: 0, notificationsFailed: 1 });
  });

  it('delivers duplicates at the configured rate, identical to the original', async () => {
    const { s3, client, events } = await start({
      faults: { duplicateNotificationRate: 1 },
    });

    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'raw/dup.json', Body: '1' }));
    await s3.drained();

    expect(events).toHaveLength(2);
    expect(events[1]).toEqual(events[0]);
    expect(s3.stats()).toMatchObject({ notificationsDelivered: 2, duplicatesInjected: 1 });
  });
});

describe('local S3 server', () => {
  it('round-trips a streamed upload byte for byte', async () => {
    const { client } = await start();
    const bytes = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) % 256));

    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'raw/stream.bin',
        Body: Readable.from([bytes.subarray(0, 70_000), bytes.subarray(70_000)]),
        ContentLength: bytes.length,
      }),
    );
    const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'raw/stream.bin' }));

    expect(Buffer.from((await out.Body?.transformToByteArray()) ?? [])).toEqual(bytes);
  });

  it('counts requests by S3 billing class on the public endpoint only', async () => {
    const { s3, client } = await start();

    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'state/a.json', Body: '1' }));
    await client.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: 'state/b.json',
        CopySource: `${BUCKET}/state/a.json`,
      }),
    );
    await bodyText(client, 'state/a.json');
    await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'state/a.json' }));
    await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'state/' }));
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'state/b.json' }));
    await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'state/a.json' }));

    expect(s3.stats().requests).toMatchObject({
      PUT: 1,
      COPY: 1,
      GET: 1,
      HEAD: 1,
      LIST: 1,
      DELETE: 1,
    });
    expect(s3.stats().totalRequests).toBe(6);
  });

  it('answers 503 SlowDown at the fault rate, which the SDK retries, on the public endpoint only', async () => {
    const rolls = [0.1, 0.9, 0.1];
    const { s3, client } = await start({
      faults: { errorRate: 0.5 },
      random: () => rolls.shift() ?? 0.9,
    });
    const noRetry = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      forcePathStyle: true,
      maxAttempts: 1,
    });

    const retried = await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'raw/f.json', Body: 'y' }),
    );
    const failed = noRetry.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'raw/g.json', Body: 'x' }),
    );
    await expect(failed).rejects.toMatchObject({
      name: 'SlowDown',
      $metadata: { httpStatusCode: 503 },
    });
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'raw/h.json', Body: 'z' }));
    await s3.drained();

    expect(retried.$metadata.attempts).toBe(2);
    expect(s3.stats()).toMatchObject({ injectedErrors: 2, notificationsDelivered: 2 });
    expect(s3.stats().requests.PUT).toBe(1);
    expect(await bodyText(s3.client, 'raw/f.json')).toBe('y');
  });

  it('keeps objects under home between runs and creates the bucket only when missing', async () => {
    const first = await start();
    await first.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'state/kept', Body: 'v1' }),
    );
    await first.s3.stop();

    const second = await start();

    expect(await bodyText(second.client, 'state/kept')).toBe('v1');
  });

  it('rejects fault rates outside 0..1 with the option named', async () => {
    await expect(start({ faults: { errorRate: 2 } })).rejects.toThrow(
      'faults.errorRate: must be a number from 0 to 1, got 2',
    );
  });
});

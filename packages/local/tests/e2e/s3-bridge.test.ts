import { createHash } from 'node:crypto';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createLocalS3Client } from '@fanout/local-s3';
import { fromParsedObjectMetadata, parsedKeyForRaw, toS3Metadata } from '@fanout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCloud } from '../../src/cloud.js';
import { readParsed, removeHome, tempHome } from './helpers.js';

const RUN_ID = '20260701T100000Z';
const SCHEDULED_AT = '2026-07-01T10:00:00.000Z';
const DIR = 'raw/source=bridge-test/dt=2026-07-01/';
/** Spaces, parentheses and non-ASCII: S3 sends `+`, `%28` and UTF-8 `%XX` in the event. */
const KEY = `${DIR}monthly report (final) café 日本.json`;
/** Same name without the encoded characters: what a parser that did not decode might read. */
const NEIGHBOUR = `${DIR}monthly report final cafe.json`;

let home: string;
let cloud: LocalCloud;
let client: S3Client;

async function putRaw(key: string, marker: string, fetchedAt: string): Promise<void> {
  const body = JSON.stringify({
    items: [
      { marker, n: 1 },
      { marker, n: 2 },
    ],
  });
  await client.send(
    new PutObjectCommand({
      Bucket: cloud.bucket,
      Key: key,
      Body: body,
      ContentType: 'application/json',
      Metadata: toS3Metadata({
        runId: RUN_ID,
        sourceId: 'bridge-test',
        format: 'json',
        formatOptions: { recordsPath: 'items' },
        fetchedAt,
        scheduledAt: SCHEDULED_AT,
        sha256: createHash('sha256').update(body).digest('hex'),
        httpStatus: 200,
        page: 0,
      }),
    }),
  );
}

beforeAll(async () => {
  home = await tempHome('bridge');
  cloud = await LocalCloud.start({ home, s3Port: 0, lambdaPort: 0, retryDelayScale: 0.001 });
  // The public endpoint, as the collector and the AWS CLI use it.
  client = createLocalS3Client(cloud.s3Endpoint);
  await putRaw(KEY, 'the-right-object', '2026-07-01T10:00:01.000Z');
  await putRaw(NEIGHBOUR, 'the-neighbour', '2026-07-01T10:00:02.000Z');
  await cloud.settled();
}, 300_000);

afterAll(async () => {
  client?.destroy();
  await cloud?.stop();
  await removeHome(home);
});

describe('S3 notification to the parser bundle through the local Lambda', () => {
  it('parses an object whose key needs URL encoding, from that object', async () => {
    const envelopes = await readParsed(client, cloud.bucket, parsedKeyForRaw(KEY));
    expect(envelopes.map((e) => e.record)).toEqual([
      { marker: 'the-right-object', n: 1 },
      { marker: 'the-right-object', n: 2 },
    ]);
    for (const envelope of envelopes) {
      expect(envelope).toMatchObject({
        run: RUN_ID,
        source: 'bridge-test',
        page: 0,
        fetchedAt: '2026-07-01T10:00:01.000Z',
      });
    }
  });

  it('records the parse outcome under the decoded key', async () => {
    const head = await client.send(
      new HeadObjectCommand({ Bucket: cloud.bucket, Key: parsedKeyForRaw(KEY) }),
    );
    expect(fromParsedObjectMetadata(head.Metadata)).toMatchObject({
      runId: RUN_ID,
      rawKey: KEY,
      pages: 1,
      parsed: 1,
      quarantined: 0,
      records: 2,
    });
  });

  it('keeps the neighbouring object apart', async () => {
    const envelopes = await readParsed(client, cloud.bucket, parsedKeyForRaw(NEIGHBOUR));
    expect(envelopes.map((e) => (e.record as { marker: string }).marker)).toEqual([
      'the-neighbour',
      'the-neighbour',
    ]);
  });

  it('delivered one event per object to the parser, none dead-lettered', async () => {
    const parser = cloud.lambda.stats()[cloud.functionName('parser')];
    expect(parser?.invocations).toBe(2);
    expect(parser?.errors).toBe(0);
    expect(await cloud.lambda.deadLetters()).toEqual([]);
  });
});

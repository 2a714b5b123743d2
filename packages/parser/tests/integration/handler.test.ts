import { parsedKeyForRaw } from '@fanout/shared';
import { fakeContext, startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { putRaw, s3Event } from '../helpers/s3.js';
import { gunzipLines } from '../helpers/streams.js';

let s3: TestS3;
const saved = { ...process.env };
beforeAll(async () => {
  s3 = await startTestS3();
  // The handler builds its client from the environment only, as in Lambda.
  Object.assign(process.env, s3.env, {
    FANOUT_BUCKET: s3.bucket,
    POWERTOOLS_SERVICE_NAME: 'fanout-parser',
    POWERTOOLS_METRICS_NAMESPACE: 'Fanout',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
});
afterAll(async () => {
  process.env = saved;
  await s3.stop();
});

describe('handler (env-configured, as deployed)', () => {
  it('parses a raw object named in an S3 event', async () => {
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const { handler } = await import('../../src/handler.js');
    const key = await putRaw(s3, 'via-handler', 'csv', 'a,b\n1,2\n', { extension: 'csv' });
    try {
      const summary = await handler(s3Event(s3.bucket, key), fakeContext());
      expect(summary.results.map((r) => r.status)).toEqual(['parsed']);
    } finally {
      stdout.mockRestore();
    }
    expect(gunzipLines(await s3.getBytes(parsedKeyForRaw(key)))).toMatchObject([
      { record: { a: '1', b: '2' } },
    ]);
  });
});

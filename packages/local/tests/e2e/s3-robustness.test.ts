import { connect } from 'node:net';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { LOCAL_S3_CREDENTIALS, rawS3Request } from '@fanout/local-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_REGION } from '../../src/config.js';
import { LocalSession } from '../../src/session.js';
import {
  E2E_COLLECTOR_TIMEOUT_SECONDS,
  E2E_RETRY_DELAY_SCALE,
  E2E_SLOW_DELAY_MS,
  removeHome,
  tempHome,
} from './helpers.js';

/**
 * No request can end the local cloud: a batch of malformed S3 requests (truncated XML,
 * missing parts, wrong ids, framing errors, huge headers, a torn connection) is each
 * answered on its own, then the same cloud serves a full scheduled cycle.
 */
let home: string;
let session: LocalSession;

beforeAll(async () => {
  home = await tempHome('s3-robustness');
  session = await LocalSession.start({
    home,
    s3Port: 0,
    lambdaPort: 0,
    functions: { collector: { timeoutSeconds: E2E_COLLECTOR_TIMEOUT_SECONDS } },
    retryDelayScale: E2E_RETRY_DELAY_SCALE,
    demo: { port: 0, count: 4, slowDelayMs: E2E_SLOW_DELAY_MS },
  });
}, 300_000);

afterAll(async () => {
  await session?.stop();
  await removeHome(home);
});

const signed = (
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
) =>
  rawS3Request(session.cloud.s3Endpoint, LOCAL_REGION, {
    method,
    path,
    headers,
    ...(body !== undefined ? { body } : {}),
    sign: LOCAL_S3_CREDENTIALS,
  });

/** Sends a request head and part of a body, then closes the socket mid-request. */
function tornRequest(endpoint: string): Promise<void> {
  const url = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.write(
        `PUT /${session.cloud.bucket}/torn HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: 1000\r\n\r\nhalf`,
      );
      setTimeout(() => socket.destroy(), 50);
    });
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
  });
}

describe('the local S3 under malformed requests', () => {
  it('answers each one with its own error and stays up for a full cycle', async () => {
    const bucket = session.cloud.bucket;
    const create = await signed('POST', `/${bucket}/mp/x?uploads`);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(create.body.toString())?.[1] ?? '';
    expect(uploadId).not.toBe('');
    await signed('PUT', `/${bucket}/mp/x?partNumber=1&uploadId=${uploadId}`, 'part one');

    const answers = [
      await signed('POST', `/${bucket}?delete`, '<Delete><Object><Key>a</Key></Object>'),
      await signed(
        'POST',
        `/${bucket}?delete`,
        '<Delete><Object><Key>a</Key></Object><Object/></Delete>',
      ),
      await signed('POST', `/${bucket}?delete`, 'not xml at all'),
      await signed(
        'POST',
        `/${bucket}/mp/x?uploadId=${uploadId}`,
        '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>"y"</ETag></Part></CompleteMultipartUpload>',
      ),
      await signed(
        'POST',
        `/${bucket}/mp/x?uploadId=${uploadId}`,
        '<CompleteMultipartUpload><Part>',
      ),
      await signed('POST', `/${bucket}/mp/x?uploadId=../../../etc`, '<CompleteMultipartUpload/>'),
      await signed('PUT', `/${bucket}/mp/x?partNumber=99999&uploadId=${uploadId}`, 'x'),
      await signed('DELETE', `/${bucket}/mp/x?uploadId=00000000000000000000000000000000`),
      await signed('PUT', `/${bucket}/chunked`, '5\r\nhel', {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'x-amz-decoded-content-length': '5',
      }),
      await signed('PUT', `/${bucket}/chunked`, 'zz\r\nhello\r\n0\r\n\r\n', {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'x-amz-decoded-content-length': '5',
      }),
      await signed('GET', `/${bucket}/%zz`),
      await signed('GET', `/${bucket}/x`, undefined, { 'x-huge': 'h'.repeat(15_000) }),
      await signed('PUT', `/${bucket}/x`, 'x', { 'x-amz-copy-source': '%%%' }),
      await signed('GET', `/${bucket}?list-type=2&continuation-token=not-a-token`),
      await signed('GET', `/${bucket}/x`, undefined, { range: 'bytes=999-' }),
      await rawS3Request(session.cloud.s3Endpoint, LOCAL_REGION, {
        method: 'GET',
        path: `/${bucket}/x`,
        headers: { authorization: 'AWS4-HMAC-SHA256 Credential=garbage' },
      }),
    ];
    await tornRequest(session.cloud.s3Endpoint);

    for (const answer of answers) {
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
      expect(answer.body.toString()).toMatch(/<RequestId>[0-9A-F]+<\/RequestId>/);
    }
    expect(session.cloud.s3Stats().internalErrors).toBe(0);
    await session.cloud.s3.send(new HeadBucketCommand({ Bucket: bucket }));

    const { status } = await session.cycle({
      time: new Date('2026-07-01T10:00:00Z'),
      maxWaitMs: 120_000,
    });
    expect(status.complete).toBe(true);
    expect(status.pending).toBe(0);
    expect(status.collected).toBeGreaterThan(0);
  });
});

import {
  type AsyncFailureRecord,
  type BatchFailure,
  batchFailureKey,
  type CollectorPayload,
  MAX_REDRIVES,
  parseCollectorPayload,
  REDACTED,
} from '@fanout/shared';
import { startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleManagerEvent } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { awsError, FakeLambda } from '../helpers/fakes.js';

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3.stop();
});

/** A hop-1 payload, through the real schema so defaults apply as a collector would see them. */
function hop(batchId: string, redrive?: number): CollectorPayload {
  return parseCollectorPayload({
    version: 1,
    runId: '20261125T131000Z',
    scheduledAt: '2026-11-25T13:10:00.000Z',
    batchId,
    hop: 1,
    tasks: [
      {
        source: {
          id: 'feed',
          url: 'https://user:pw@example.test/feed?token=abc',
          format: 'json',
          headers: { Authorization: 'Bearer secret' },
        },
        estimateMs: 1_000,
      },
    ],
    ...(redrive !== undefined ? { redrive } : {}),
  });
}

/** What Lambda sends to the collector's on-failure destination after its retries. */
function failureRecord(payload: CollectorPayload): AsyncFailureRecord {
  return {
    version: '1.0',
    timestamp: '2026-11-25T13:20:00.000Z',
    requestContext: {
      requestId: 'c0ffee00-0000-0000-0000-000000000000',
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fanout-collector:$LATEST',
      condition: 'RetriesExhausted',
      approximateInvokeCount: 3,
    },
    requestPayload: payload,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: {
      errorType: 'Sandbox.Timedout',
      errorMessage: 'Task timed out after 300.00 seconds',
    },
  };
}

describe('a collector hop Lambda gave up on (on-failure destination: the manager)', () => {
  it('is sent to a collector again, as it was, marked as redrive 1', async () => {
    const lambda = new FakeLambda();
    const deps = testDeps(s3, lambda);
    const payload = hop('b00001');

    const result = await handleManagerEvent(failureRecord(payload), { awsRequestId: 'm-1' }, deps);

    expect(result).toMatchObject({ outcome: 'hop-redriven', batchId: 'b00001', redrive: 1 });
    expect(lambda.calls).toEqual([
      {
        functionName: 'fanout-collector',
        invocationType: 'Event',
        payload: { ...payload, redrive: 1 },
      },
    ]);
    expect(await s3.listKeys(batchFailureKey(payload.runId, 'b00001', 1))).toEqual([]);
  });

  it('counts redrives: the second failure of a redriven hop is redrive 2', async () => {
    const lambda = new FakeLambda();
    const deps = testDeps(s3, lambda);

    const result = await handleManagerEvent(
      failureRecord(hop('b00002', 1)),
      { awsRequestId: 'm-2' },
      deps,
    );

    expect(result).toMatchObject({ outcome: 'hop-redriven', redrive: 2 });
    expect(lambda.calls[0]?.payload).toMatchObject({ redrive: 2 });
  });

  it(`records the hop as failed, redacted, after ${MAX_REDRIVES} redrives: never retried forever`, async () => {
    const lambda = new FakeLambda();
    const deps = testDeps(s3, lambda);
    const payload = hop('b00003', MAX_REDRIVES);

    const result = await handleManagerEvent(failureRecord(payload), { awsRequestId: 'm-3' }, deps);

    const key = batchFailureKey(payload.runId, 'b00003', 1);
    expect(result).toMatchObject({ outcome: 'hop-failed', recordKey: key });
    expect(lambda.calls).toEqual([]);
    const record = await s3.getJson<BatchFailure>(key);
    expect(record).toMatchObject({
      kind: 'collector-failed',
      runId: payload.runId,
      batchId: 'b00003',
      hop: 1,
      sourceIds: ['feed'],
      payloadRedacted: true,
    });
    expect(record.reason).toBe(
      `RetriesExhausted after 3 attempts and ${MAX_REDRIVES} redrives (at most ${MAX_REDRIVES}); last error: Sandbox.Timedout: Task timed out after 300.00 seconds`,
    );
    // No credential reaches the record: URL user info, query values and header values.
    const text = JSON.stringify(record);
    expect(text).not.toContain('pw@');
    expect(text).not.toContain('abc');
    expect(text).not.toContain('Bearer secret');
    expect(text).toContain(REDACTED);
  });

  it('records the hop as failed when the collector cannot be invoked to redrive it', async () => {
    const lambda = new FakeLambda(() => {
      throw awsError('ResourceNotFoundException', 404, 'Function not found: fanout-collector');
    });
    const deps = testDeps(s3, lambda);
    const payload = hop('b00004');

    const result = await handleManagerEvent(failureRecord(payload), { awsRequestId: 'm-4' }, deps);

    expect(result).toMatchObject({ outcome: 'hop-failed' });
    const record = await s3.getJson<BatchFailure>(batchFailureKey(payload.runId, 'b00004', 1));
    expect(record.reason).toMatch(/^could not redrive \(ResourceNotFoundException/);
  });
});

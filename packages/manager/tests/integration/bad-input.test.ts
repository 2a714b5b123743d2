import { DeleteObjectsCommand } from '@aws-sdk/client-s3';
import { invalidEventKey, runManifestKey } from '@fanout/shared';
import { startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleManagerEvent, type InvalidEventRecord } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { FakeLambda } from '../helpers/fakes.js';

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3();
  // A planned run, so a dispatch part can name a batch the run does not have.
  await s3.putJson(runManifestKey('known-run'), {
    runId: 'known-run',
    scheduledAt: '2026-11-25T13:10:00.000Z',
    trigger: 'manual',
    status: 'planned',
    sourceCount: 1,
    batches: [{ batchId: 'b00000', sourceIds: ['a'], estimateMs: 10, payloadBytes: 300 }],
    invalidSources: [],
    createdAt: '2026-11-25T13:10:00.000Z',
    updatedAt: '2026-11-25T13:10:00.000Z',
  });
});
afterAll(async () => {
  const keys = await s3.listKeys();
  if (keys.length > 0) {
    await s3.client.send(
      new DeleteObjectsCommand({
        Bucket: s3.bucket,
        Delete: { Objects: keys.map((Key) => ({ Key })) },
      }),
    );
  }
  await s3.stop();
});

const ROOT =
  'invalid manager event: (root): expected a scheduled event (source aws.events or aws.scheduler), a manual trigger (type fanout.manual), a dispatch event (type fanout.dispatch) or an async failure record (requestContext, requestPayload)';

const TABLE: { name: string; event: unknown; error: string }[] = [
  { name: 'null', event: null, error: `${ROOT}, got null` },
  { name: 'a string', event: 'run now', error: `${ROOT}, got "run now"` },
  {
    name: 'an unknown shape',
    event: { hello: 'world' },
    error: `${ROOT}, got an object with keys ["hello"]`,
  },
  {
    name: 'a rule event with a bad time',
    event: { source: 'aws.events', 'detail-type': 'Scheduled Event', time: 'yesterday' },
    error: 'invalid scheduled event (rule): time: must be an ISO 8601 time, got "yesterday"',
  },
  {
    name: 'a rule event of another detail type',
    event: { source: 'aws.events', 'detail-type': 'Object Created', time: '2026-11-25T13:10:00Z' },
    error: 'invalid scheduled event (rule): detail-type:',
  },
  {
    name: 'a Scheduler event without a time',
    event: { source: 'aws.scheduler', 'detail-type': 'Scheduled Event' },
    error: 'invalid scheduled event (scheduler): time: must be an ISO 8601 time, got nothing',
  },
  {
    name: 'a manual trigger with a bad run id',
    event: { type: 'fanout.manual', runId: 'my run!' },
    error:
      'invalid manual trigger: runId: must be 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit, got "my run!"',
  },
  {
    name: 'a manual trigger with an unknown field',
    event: { type: 'fanout.manual', runId: 'r1', force: true },
    error: 'invalid manual trigger: (root): Unrecognized key: "force"',
  },
  {
    name: 'a manual trigger with an empty source list',
    event: { type: 'fanout.manual', runId: 'r1', sources: [] },
    error: 'invalid manual trigger: sources:',
  },
  {
    name: 'a dispatch part with a malformed batch id',
    event: { type: 'fanout.dispatch', runId: 'known-run', batchIds: ['x1'], part: 1 },
    error: 'invalid dispatch event: batchIds[0]: must look like b00042, got "x1"',
  },
  {
    name: 'a dispatch part for a run that does not exist',
    event: { type: 'fanout.dispatch', runId: 'ghost-run', batchIds: ['b00000'], part: 1 },
    error: 'run ghost-run: has no run manifest',
  },
  {
    name: 'a dispatch part naming a batch the run does not have',
    event: { type: 'fanout.dispatch', runId: 'known-run', batchIds: ['b00042'], part: 1 },
    error: 'run known-run: has no batch b00042',
  },
  {
    name: 'an async failure record without a request id',
    event: { requestContext: { functionArn: 'arn' }, requestPayload: {} },
    error: 'invalid async failure record: version:',
  },
  {
    name: 'an async failure record holding no collector payload',
    event: {
      version: '1.0',
      timestamp: '2026-11-25T13:20:00.000Z',
      requestContext: {
        requestId: 'r-1',
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fanout-collector:$LATEST',
        condition: 'RetriesExhausted',
        approximateInvokeCount: 3,
      },
      requestPayload: { hello: 'world' },
    },
    error: 'invalid collector payload: version:',
  },
];

describe('bad manager events: logged, recorded under runs/_invalid/, never thrown', () => {
  it.each(TABLE.map((row, i) => ({ ...row, requestId: `bad-${i}` })))(
    '$name',
    async ({ event, error, requestId }) => {
      // Prepare
      const lambda = new FakeLambda();
      const deps = testDeps(s3, lambda);

      // Act
      const result = await handleManagerEvent(event, { awsRequestId: requestId }, deps);

      // Assess: the answer, the record, the log line, and nothing dispatched
      const key = invalidEventKey(new Date(deps.clock.now()).toISOString(), requestId);
      expect(result).toEqual({
        outcome: 'invalid',
        reason: expect.stringContaining(error),
        recordKey: key,
      });
      expect(key).toBe(`runs/_invalid/2026-11-25/${requestId}.json`);
      const record = await s3.getJson<InvalidEventRecord>(key);
      expect(record).toMatchObject({ function: 'manager', requestId, event });
      expect(record.reason).toContain(error);
      expect(record.issues.length).toBeGreaterThan(0);
      expect(deps.log.entries).toContainEqual(
        expect.objectContaining({
          level: 'error',
          message: 'invalid manager event; recorded, not retried',
        }),
      );
      expect(lambda.calls).toHaveLength(0);
    },
  );
});

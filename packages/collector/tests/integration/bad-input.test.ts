import { BatchFailureSchema, batchFailureKey, invalidEventKey } from '@fanout/shared';
import { fakeContext, ManualClock, startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleCollectorEvent } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';

const RUN = '20261125T131000Z';
const base = {
  version: 1,
  runId: RUN,
  scheduledAt: '2026-11-25T13:10:00Z',
  batchId: 'b00007',
  hop: 2,
};
const task = { source: { id: 'a', url: 'http://x.test/', format: 'json' }, estimateMs: 1 };
const withSource = (source: Record<string, unknown>) => ({
  ...base,
  tasks: [{ ...task, source: { ...task.source, ...source } }],
});

const IN_RUN = batchFailureKey(RUN, 'b00007', 2);
const UNNAMED = 'unnamed';

/** Malformed payloads: the error text a user sees and where the failure record lands. */
const CASES: { name: string; event: unknown; reason: string; key: string; sourceIds?: string[] }[] =
  [
    {
      name: 'null',
      event: null,
      reason: 'invalid collector payload: (root): Invalid input: expected object, received null',
      key: UNNAMED,
    },
    {
      name: 'a string',
      event: 'text',
      reason:
        'invalid collector payload: (root): Invalid input: expected object, received string, got "text"',
      key: UNNAMED,
    },
    {
      name: 'an empty object',
      event: {},
      reason: 'invalid collector payload: version: Invalid input: expected 1, got nothing; runId:',
      key: UNNAMED,
    },
    {
      name: 'no tasks',
      event: { ...base, tasks: [] },
      reason:
        'invalid collector payload: tasks: Too small: expected array to have >=1 items, got []',
      key: IN_RUN,
    },
    {
      name: 'an unknown version',
      event: { ...base, version: 2, tasks: [task] },
      reason: 'invalid collector payload: version: Invalid input: expected 1, got 2',
      key: IN_RUN,
      sourceIds: ['a'],
    },
    {
      name: 'a non-http source url',
      event: withSource({ url: 'ftp://x.test/f' }),
      reason:
        'invalid collector payload: tasks[0].source.url: must be http or https, got "ftp://x.test/f"',
      key: IN_RUN,
      sourceIds: ['a'],
    },
    {
      name: 'a source id with a slash',
      event: withSource({ id: 'a/b' }),
      reason:
        'invalid collector payload: tasks[0].source.id: must be 1-128 characters of A-Z a-z 0-9 _ . - starting with a letter or digit, got "a/b"',
      key: IN_RUN,
      sourceIds: ['a/b'],
    },
    {
      name: 'a scheduled time that is not a time',
      event: { ...base, scheduledAt: 'yesterday', tasks: [task] },
      reason: 'invalid collector payload: scheduledAt: Invalid ISO datetime, got "yesterday"',
      key: IN_RUN,
    },
    {
      name: 'a negative hop',
      event: { ...base, hop: -1, tasks: [task] },
      reason: 'invalid collector payload: hop: Too small: expected number to be >=0, got -1',
      key: UNNAMED,
    },
    {
      name: 'a task without an estimate',
      event: { ...base, tasks: [{ source: task.source }] },
      reason:
        'invalid collector payload: tasks[0].estimateMs: Invalid input: expected number, received undefined, got nothing',
      key: IN_RUN,
    },
  ];

describe('bad input: malformed collector payloads', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startTestS3();
  });
  afterAll(async () => {
    await s3.stop();
  });

  it.each(CASES)('$name is recorded, not thrown', async ({ event, reason, key, sourceIds }) => {
    // Prepare
    const clock = new ManualClock();
    const context = fakeContext({ clock });
    const deps = await testDeps({ s3: s3.client, bucket: s3.bucket, clock, context });
    const expectedKey =
      key === UNNAMED ? invalidEventKey('2026-11-25T13:10:00Z', context.awsRequestId) : key;

    // Act
    const outcome = await handleCollectorEvent(event, deps);

    // Assess
    expect(outcome).toMatchObject({ kind: 'invalid', key: expectedKey });
    if (outcome.kind !== 'invalid') return;
    expect(outcome.reason.startsWith(reason)).toBe(true);
    const record = BatchFailureSchema.parse(await s3.getJson(expectedKey));
    expect(record).toMatchObject({
      kind: 'invalid-payload',
      reason: outcome.reason,
      payload: event,
    });
    if (sourceIds) expect(record.sourceIds).toEqual(sourceIds);
    if (key === IN_RUN) expect(record).toMatchObject({ runId: RUN, batchId: 'b00007', hop: 2 });
    expect(deps.log.entries).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'invalid collector payload; recorded, not retried',
      }),
    );
    expect(await s3.listKeys('raw/')).toEqual([]);
  });
});

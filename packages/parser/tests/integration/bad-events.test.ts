import { invalidEventKey } from '@fanout/shared';
import { fakeContext, ManualClock, startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleS3Event, type InvalidEventRecord } from '../../src/index.js';
import { depsFor, putRaw } from '../helpers/s3.js';

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3.stop();
});

function record(overrides: Record<string, unknown> = {}, object: Record<string, unknown> = {}) {
  return {
    eventSource: 'aws:s3',
    eventTime: '2026-11-25T13:10:05.000Z',
    eventName: 'ObjectCreated:Put',
    s3: {
      bucket: { name: 'fanout-test' },
      object: { key: 'raw/source=a/dt=2026-11-25/x.json', ...object },
    },
    ...overrides,
  };
}

/** Each malformed event, the error text it must produce, and the record it must leave. */
const TABLE: {
  name: string;
  event: unknown;
  error: RegExp;
  recordsRejected: number;
  wholeEvent: boolean;
}[] = [
  {
    name: 'null',
    event: null,
    error: /invalid S3 event: \(root\): .*got null/,
    recordsRejected: 1,
    wholeEvent: true,
  },
  {
    name: 'a scheduled event sent to the parser',
    event: { source: 'aws.events', 'detail-type': 'Scheduled Event' },
    error: /invalid S3 event: Records: .*got nothing/,
    recordsRejected: 1,
    wholeEvent: true,
  },
  {
    name: 'no records',
    event: { Records: [] },
    error: /invalid S3 event: Records: .*got \[\]/,
    recordsRejected: 1,
    wholeEvent: true,
  },
  {
    name: 'a delete event',
    event: { Records: [record({ eventName: 'ObjectRemoved:Delete' })] },
    error: /Records\[0\]\.eventName: must be an ObjectCreated event, got "ObjectRemoved:Delete"/,
    recordsRejected: 1,
    wholeEvent: false,
  },
  {
    name: 'a record from another service',
    event: { Records: [record({ eventSource: 'aws:sqs' })] },
    error: /Records\[0\]\.eventSource: .*got "aws:sqs"/,
    recordsRejected: 1,
    wholeEvent: false,
  },
  {
    name: 'a key that is not URL encoding',
    event: { Records: [record({}, { key: 'raw/source=a/%E0%A4%A.json' })] },
    error: /Records\[0\]\.s3\.object\.key: S3 event key is not valid URL encoding/,
    recordsRejected: 1,
    wholeEvent: false,
  },
  {
    name: 'another bucket',
    event: {
      Records: [record({ s3: { bucket: { name: 'elsewhere' }, object: { key: 'raw/a.json' } } })],
    },
    error: /s3\.bucket\.name: not the configured bucket "fanout-test", got "elsewhere"/,
    recordsRejected: 1,
    wholeEvent: false,
  },
  {
    name: 'an empty key',
    event: { Records: [record({}, { key: '' })] },
    error: /Records\[0\]\.s3\.object\.key: /,
    recordsRejected: 1,
    wholeEvent: false,
  },
];

describe('bad S3 events: the error each gives and the record each leaves', () => {
  it.each(TABLE)('$name', async ({ event, error, recordsRejected, wholeEvent }) => {
    // Prepare
    const { deps, clock } = depsFor(s3);
    const context = fakeContext({ clock });

    // Act
    const summary = await handleS3Event(event, context, deps);

    // Assess
    const key = invalidEventKey(new Date(clock.now()).toISOString(), context.awsRequestId);
    expect(summary.invalidEventKey).toBe(key);
    const stored = await s3.getJson<InvalidEventRecord>(key);
    expect(stored.reason).toMatch(error);
    expect(stored.rejected).toHaveLength(recordsRejected);
    expect(stored.rejected[0]?.errors.join('; ')).toMatch(wholeEvent ? /./ : error);
    expect(stored.rejected[0]?.record).toBeDefined();
    if (wholeEvent) expect(stored.event).toEqual(event ?? null);
    expect(summary.results).toEqual([]);
  });

  it('parses the valid records of an event and records only the invalid ones', async () => {
    const key = await putRaw(s3, 'mixed', 'ndjson', '{"a":1}\n');
    const { deps, clock } = depsFor(s3);
    const context = fakeContext({ clock: new ManualClock(clock.now()) });
    const event = {
      Records: [record({}, { key }), record({ eventName: 'ObjectRemoved:Delete' })],
    };
    const summary = await handleS3Event(event, context, deps);
    expect(summary.results.map((r) => r.status)).toEqual(['parsed']);
    const stored = await s3.getJson<InvalidEventRecord>(summary.invalidEventKey ?? '');
    expect(stored.rejected).toEqual([
      {
        index: 1,
        errors: [expect.stringContaining('must be an ObjectCreated event')],
        record: event.Records[1],
      },
    ]);
  });

  it('ignores keys outside raw/ with a warning and writes nothing (the recursion guard)', async () => {
    const { deps, log } = depsFor(s3);
    const before = await s3.listKeys();
    const event = {
      Records: [
        record({}, { key: 'parsed/source=a/dt=2026-11-25/x.ndjson.gz' }),
        record({}, { key: 'quarantine/source=a/dt=2026-11-25/x.json' }),
      ],
    };
    const summary = await handleS3Event(event, fakeContext(), deps);
    expect(summary.ignoredKeys).toEqual([
      'parsed/source=a/dt=2026-11-25/x.ndjson.gz',
      'quarantine/source=a/dt=2026-11-25/x.json',
    ]);
    expect(log.entries.filter((e) => e.level === 'warn')).toHaveLength(2);
    expect(await s3.listKeys()).toEqual(before);
  });
});

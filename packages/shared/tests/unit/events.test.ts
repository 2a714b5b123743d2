import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ContractValidationError,
  encodeS3EventKey,
  parseDefinitionsOf,
  parseManagerEvent,
  parseS3Event,
  runOfManagerTrigger,
  SCHEDULER_INPUT_TEMPLATE,
} from '../../src/index.js';
import {
  anS3Event,
  aScheduledRuleEvent,
  RUN_ID,
  SCHEDULED_AT,
  SCHEDULER_CONTEXT,
  substituteSchedulerTemplate,
} from '../helpers/factories.js';

function thrownBy(act: () => unknown): ContractValidationError {
  try {
    act();
  } catch (error) {
    if (error instanceof ContractValidationError) return error;
    throw error;
  }
  throw new Error('expected a ContractValidationError, nothing was thrown');
}

afterEach(() => {
  vi.useRealTimers();
});

describe('parseManagerEvent: EventBridge scheduled rule', () => {
  it('derives the run id from the scheduled time', () => {
    // Act
    const trigger = parseManagerEvent(aScheduledRuleEvent());

    // Assess
    expect(trigger).toEqual({
      kind: 'schedule',
      runId: RUN_ID,
      scheduledAt: '2026-11-25T13:10:00.000Z',
      via: 'rule',
    });
  });

  it('accepts the minimal shape (only the fields the run needs)', () => {
    // Act
    const trigger = parseManagerEvent({
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      time: SCHEDULED_AT,
    });

    // Assess
    expect(trigger).toMatchObject({ kind: 'schedule', runId: RUN_ID, via: 'rule' });
  });

  it('normalizes an offset time to UTC before deriving the run id', () => {
    // Act
    const trigger = parseManagerEvent(aScheduledRuleEvent({ time: '2026-11-25T14:10:00+01:00' }));

    // Assess
    expect(trigger).toMatchObject({ runId: RUN_ID, scheduledAt: '2026-11-25T13:10:00.000Z' });
  });

  it('gives a duplicated delivery the same run id, whatever the clock says', () => {
    // Prepare
    const event = aScheduledRuleEvent();
    vi.useFakeTimers();

    // Act
    vi.setSystemTime(new Date('2026-11-25T13:10:02Z'));
    const first = parseManagerEvent(structuredClone(event));
    vi.setSystemTime(new Date('2026-11-25T15:47:19Z'));
    const duplicate = parseManagerEvent(structuredClone(event));

    // Assess
    expect(duplicate).toEqual(first);
    expect(first).toMatchObject({ runId: RUN_ID });
  });

  it('gives different ticks different run ids', () => {
    // Act
    const first = parseManagerEvent(aScheduledRuleEvent({ time: '2026-11-25T13:10:00Z' }));
    const next = parseManagerEvent(aScheduledRuleEvent({ time: '2026-11-25T13:20:00Z' }));

    // Assess
    expect(first).toMatchObject({ runId: '20261125T131000Z' });
    expect(next).toMatchObject({ runId: '20261125T132000Z' });
  });

  it.each([
    ['yesterday', 'time: must be an ISO 8601 time, got "yesterday"'],
    ['2026-11-25', 'time: must be an ISO 8601 time, got "2026-11-25"'],
    [1764076200000, 'time: must be an ISO 8601 time, got 1764076200000'],
  ])('rejects the time %j, naming the field and value', (time, issue) => {
    // Act
    const error = thrownBy(() => parseManagerEvent(aScheduledRuleEvent({ time })));

    // Assess
    expect(error.subject).toBe('scheduled event (rule)');
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatch(new RegExp(`^${issue.split(',')[0]}`));
    expect(error.issues[0]).toContain(issue.slice(issue.indexOf('got')));
  });

  it('rejects a missing time', () => {
    // Prepare
    const { time: _, ...event } = aScheduledRuleEvent();

    // Act
    const error = thrownBy(() => parseManagerEvent(event));

    // Assess
    expect(error.issues).toEqual(['time: must be an ISO 8601 time, got nothing']);
  });

  it('rejects another detail-type from aws.events', () => {
    // Act
    const error = thrownBy(() =>
      parseManagerEvent(aScheduledRuleEvent({ 'detail-type': 'EC2 Instance State-change' })),
    );

    // Assess
    expect(error.issues).toEqual([
      'detail-type: Invalid input: expected "Scheduled Event", got "EC2 Instance State-change"',
    ]);
  });
});

describe('parseManagerEvent: EventBridge Scheduler', () => {
  it('accepts the input template once Scheduler has substituted its placeholders', () => {
    // Prepare
    const event = substituteSchedulerTemplate(SCHEDULER_INPUT_TEMPLATE);

    // Act
    const trigger = parseManagerEvent(event);

    // Assess
    expect(trigger).toEqual({
      kind: 'schedule',
      runId: RUN_ID,
      scheduledAt: '2026-11-25T13:10:00.000Z',
      via: 'scheduler',
    });
  });

  it('gives the same run id to every attempt of one scheduled time', () => {
    // Act
    const first = parseManagerEvent(substituteSchedulerTemplate(SCHEDULER_INPUT_TEMPLATE));
    const retry = parseManagerEvent(
      substituteSchedulerTemplate(SCHEDULER_INPUT_TEMPLATE, {
        ...SCHEDULER_CONTEXT,
        executionId: 'another-execution',
        attemptNumber: '2',
      }),
    );

    // Assess
    expect(retry).toEqual(first);
  });

  it('gives a rule and Scheduler event for the same tick the same run id', () => {
    // Act
    const rule = parseManagerEvent(aScheduledRuleEvent());
    const scheduler = parseManagerEvent(substituteSchedulerTemplate(SCHEDULER_INPUT_TEMPLATE));

    // Assess
    expect(runOfManagerTrigger(scheduler)).toBe(runOfManagerTrigger(rule));
  });

  it('uses only placeholders Scheduler knows', () => {
    // Prepare
    const known = [
      '<aws.scheduler.schedule-arn>',
      '<aws.scheduler.scheduled-time>',
      '<aws.scheduler.execution-id>',
      '<aws.scheduler.attempt-number>',
    ];

    // Act
    const used = JSON.stringify(SCHEDULER_INPUT_TEMPLATE).match(/<[^>]+>/g) ?? [];

    // Assess
    expect(used.length).toBeGreaterThan(0);
    for (const placeholder of used) expect(known).toContain(placeholder);
  });

  it('rejects the template left unsubstituted, naming the time field', () => {
    // Act
    const error = thrownBy(() => parseManagerEvent(structuredClone(SCHEDULER_INPUT_TEMPLATE)));

    // Assess
    expect(error.subject).toBe('scheduled event (scheduler)');
    expect(error.issues).toEqual([
      'time: must be an ISO 8601 time, got "<aws.scheduler.scheduled-time>"',
    ]);
  });
});

describe('parseManagerEvent: manual trigger', () => {
  it('accepts a run id alone', () => {
    expect(parseManagerEvent({ type: 'fanout.manual', runId: 'backfill-1' })).toEqual({
      kind: 'manual',
      runId: 'backfill-1',
    });
  });

  it('passes the source filter and normalizes the time', () => {
    // Act
    const trigger = parseManagerEvent({
      type: 'fanout.manual',
      runId: 'rerun.2026-11-25',
      sources: ['weather-api', 'prices'],
      time: '2026-11-25T14:10:00+01:00',
    });

    // Assess
    expect(trigger).toEqual({
      kind: 'manual',
      runId: 'rerun.2026-11-25',
      sources: ['weather-api', 'prices'],
      scheduledAt: '2026-11-25T13:10:00.000Z',
    });
  });

  it.each([
    [{ runId: 'has space' }, 'runId: must be 1-64 characters', 'got "has space"'],
    [{ runId: 'a/b' }, 'runId: must be 1-64 characters', 'got "a/b"'],
    [{ runId: 'r'.repeat(65) }, 'runId: must be 1-64 characters', `got "${'r'.repeat(65)}"`],
    [{ runId: undefined }, 'runId: Invalid input: expected string', 'got nothing'],
    [{ sources: [] }, 'sources: Too small: expected array to have >=1 items', 'got []'],
    [{ sources: ['ok', 'no/slash'] }, 'sources[1]: must be 1-128 characters', 'got "no/slash"'],
    [{ time: 'now' }, 'time: must be an ISO 8601 time', 'got "now"'],
    [{ runID: 'typo' }, '(root): Unrecognized key: "runID"', 'got {'],
  ])('rejects %j, naming the field and value', (overrides, start, got) => {
    // Act
    const error = thrownBy(() =>
      parseManagerEvent({ type: 'fanout.manual', runId: 'r1', ...overrides }),
    );

    // Assess
    expect(error.subject).toBe('manual trigger');
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.startsWith(start)).toBe(true);
    expect(error.issues[0]).toContain(got);
  });
});

describe('parseManagerEvent: dispatch event', () => {
  it('accepts a slice of batches', () => {
    // Act
    const trigger = parseManagerEvent({
      type: 'fanout.dispatch',
      runId: RUN_ID,
      batchIds: ['b00000', 'b00001'],
      part: 0,
    });

    // Assess
    expect(trigger).toMatchObject({
      kind: 'dispatch',
      runId: RUN_ID,
      batchIds: ['b00000', 'b00001'],
      part: 0,
    });
  });

  it.each([
    [{ batchIds: [] }, 'batchIds: Too small: expected array to have >=1 items, got []'],
    [{ batchIds: ['b1'] }, 'batchIds[0]: must look like b00042, got "b1"'],
    [{ part: -1 }, 'part: Too small: expected number to be >=0, got -1'],
    [{ part: 0.5 }, 'part: Invalid input: expected int, received number, got 0.5'],
  ])('rejects %j, naming the field and value', (overrides, issue) => {
    // Act
    const error = thrownBy(() =>
      parseManagerEvent({
        type: 'fanout.dispatch',
        runId: RUN_ID,
        batchIds: ['b00000'],
        part: 1,
        ...overrides,
      }),
    );

    // Assess
    expect(error.subject).toBe('dispatch event');
    expect(error.issues).toEqual([issue]);
  });
});

describe('parseManagerEvent: unknown shapes', () => {
  it.each([
    ['an empty object', {}, 'got an object with keys []'],
    ['an S3 event', anS3Event(['raw/x.json']), 'got an object with keys ["Records"]'],
    ['null', null, 'got null'],
    ['a string', 'run now', 'got "run now"'],
    ['a number', 3, 'got 3'],
    ['another type', { type: 'fanout.other' }, 'got an object with keys ["type"]'],
  ])('rejects %s, describing what it got', (_, event, got) => {
    // Act
    const error = thrownBy(() => parseManagerEvent(event));

    // Assess
    expect(error.subject).toBe('manager event');
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatch(/^\(root\): expected a scheduled event/);
    expect(error.issues[0]?.endsWith(got)).toBe(true);
  });
});

describe('parseS3Event', () => {
  it("decodes the example in AWS's documentation: 'red+flower.jpg' is 'red flower.jpg'", () => {
    // Act
    const { objects, invalid } = parseS3Event(anS3Event(['red+flower.jpg']));

    // Assess
    expect(invalid).toEqual([]);
    expect(objects).toEqual([
      {
        bucket: 'mybucket',
        key: 'red flower.jpg',
        encodedKey: 'red+flower.jpg',
        size: 1024,
        eTag: 'd41d8cd98f00b204e9800998ecf8427e',
        eventTime: '1970-01-01T00:00:00.000Z',
        eventName: 'ObjectCreated:Put',
      },
    ]);
  });

  it.each([
    'raw/source=a/dt=2026-11-25/r-p0000.json',
    'raw/space here/and+plus.json',
    'raw/100% done.csv',
    'raw/météo/東京 (1).json',
    "raw/it's ~ok~ (really)!.json",
    'raw/literal %41 not A.json',
    'raw/emoji 🚀.json',
  ])('decodes %j exactly once, back to the key that was written', (key) => {
    // Act
    const { objects, invalid } = parseS3Event(anS3Event([encodeS3EventKey(key)]));

    // Assess
    expect(invalid).toEqual([]);
    expect(objects.map((object) => object.key)).toEqual([key]);
  });

  it('keeps the encoded key for logs beside the decoded one', () => {
    // Act
    const { objects } = parseS3Event(anS3Event(['raw/a%2Bb+c.json']));

    // Assess
    expect(objects[0]).toMatchObject({ key: 'raw/a+b c.json', encodedKey: 'raw/a%2Bb+c.json' });
  });

  it('reports invalid records by index while the valid ones proceed', () => {
    // Prepare
    const event = anS3Event(['raw/one.json', '%E0%A4%A', 'raw/three.json']);
    const records = event.Records as Record<string, unknown>[];
    records.push({ eventSource: 'aws:sqs' });

    // Act
    const { objects, invalid } = parseS3Event(event);

    // Assess
    expect(objects.map((object) => object.key)).toEqual(['raw/one.json', 'raw/three.json']);
    expect(invalid.map((record) => record.index)).toEqual([1, 3]);
    expect(invalid[0]?.errors).toEqual([
      'Records[1].s3.object.key: S3 event key is not valid URL encoding: "%E0%A4%A"',
    ]);
    expect(invalid[1]?.errors).toContain(
      'Records[3].eventSource: Invalid input: expected "aws:s3", got "aws:sqs"',
    );
  });

  it.each(['ObjectRemoved:Delete', 'ObjectRestore:Completed', 'LifecycleExpiration:Delete'])(
    'rejects a %s record, naming the event',
    (eventName) => {
      // Act
      const { objects, invalid } = parseS3Event(anS3Event(['raw/x.json'], { eventName }));

      // Assess
      expect(objects).toEqual([]);
      expect(invalid).toEqual([
        {
          index: 0,
          errors: [`Records[0].eventName: must be an ObjectCreated event, got "${eventName}"`],
        },
      ]);
    },
  );

  it.each(['ObjectCreated:Put', 'ObjectCreated:CompleteMultipartUpload', 'ObjectCreated:Copy'])(
    'accepts %s',
    (eventName) => {
      expect(parseS3Event(anS3Event(['raw/x.json'], { eventName })).objects).toHaveLength(1);
    },
  );

  it('rejects a record without a bucket name or key, naming the path', () => {
    // Prepare
    const event = anS3Event(['']);

    // Act
    const { invalid } = parseS3Event(event);

    // Assess
    expect(invalid).toEqual([
      {
        index: 0,
        errors: [
          'Records[0].s3.object.key: Too small: expected string to have >=1 characters, got ""',
        ],
      },
    ]);
  });

  it.each([
    ['no Records', {}, 'Records: Invalid input: expected array, received undefined, got nothing'],
    [
      'empty Records',
      { Records: [] },
      'Records: Too small: expected array to have >=1 items, got []',
    ],
    ['null', null, '(root): Invalid input: expected object, received null, got null'],
  ])('throws ContractValidationError for %s', (_, event, issue) => {
    // Act
    const error = thrownBy(() => parseS3Event(event));

    // Assess
    expect(error.subject).toBe('S3 event');
    expect(error.issues).toEqual([issue]);
  });
});

describe('parseDefinitionsOf: the definitions a reparse event carries', () => {
  it('has none for an S3 notification', () => {
    expect(parseDefinitionsOf(anS3Event(['raw/x']))).toBeUndefined();
  });

  it("reads each source's format and options", () => {
    const event = {
      ...anS3Event(['raw/x']),
      fanout: {
        definitions: { items: { format: 'json', formatOptions: { recordsPath: 'data.items' } } },
      },
    };
    expect(parseDefinitionsOf(event)).toEqual(
      new Map([['items', { format: 'json', formatOptions: { recordsPath: 'data.items' } }]]),
    );
  });

  it('names the field of a bad definition', () => {
    const event = {
      ...anS3Event(['raw/x']),
      fanout: { definitions: { items: { format: 'json', formatOptions: { recordsPath: 3 } } } },
    };
    expect(() => parseDefinitionsOf(event)).toThrow(
      /fanout\.definitions\.items\.formatOptions\.recordsPath/,
    );
  });
});

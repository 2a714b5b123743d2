import {
  batchFailureKey,
  type Clock,
  type CollectorPayload,
  REDACTED,
  redactPayload,
} from '@fanout/shared';
import { fakeContext, ManualClock } from '@fanout/testkit';
import { describe, expect, it } from 'vitest';
import { collectBatch, handleCollectorEvent } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { payload, RUN_ID } from '../helpers/payloads.js';
import { fakeS3, putJson, scriptedTransport } from '../helpers/transport.js';

const SECRET_URL = 'http://alice:s3cret@api.test/v1/items?token=abc123&page=2';
const SECRET_HEADERS = { Authorization: 'Bearer tok-987', 'X-Api-Key': 'key-654' };

/** Every secret a test puts in a payload; none may appear in what is stored or logged. */
const SECRETS = ['s3cret', 'alice', 'abc123', 'tok-987', 'key-654'];

function expectNoSecrets(value: unknown): void {
  const text = JSON.stringify(value);
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

describe('redactPayload', () => {
  it('redacts source URLs and header values, keeping header names and everything else', () => {
    // Prepare
    const input = payload([
      {
        source: { id: 'secret', url: SECRET_URL, headers: SECRET_HEADERS },
        previous: { etag: '"v1"' },
      },
    ]);

    // Act
    const redacted = redactPayload(input) as CollectorPayload;

    // Assess
    expect(redacted).toEqual({
      ...input,
      tasks: [
        {
          ...input.tasks[0],
          source: {
            ...input.tasks[0]?.source,
            url: 'http://api.test/v1/items?token=REDACTED&page=REDACTED',
            headers: { Authorization: REDACTED, 'X-Api-Key': REDACTED },
          },
        },
      ],
    });
    expectNoSecrets(redacted);
  });

  it('redacts a document of any shape: URLs of other schemes under url, URLs in text, odd headers', () => {
    // Prepare
    const odd = {
      tasks: [
        { source: { url: 'ftp://bob:pw-123@files.test/x', headers: ['Bearer tok-987'] } },
        { note: `see ${SECRET_URL} for details`, headers: 'key-654' },
      ],
    };

    // Act
    const redacted = redactPayload(odd);

    // Assess
    expect(redacted).toEqual({
      tasks: [
        { source: { url: 'ftp://files.test/x', headers: [REDACTED] } },
        {
          note: 'see http://api.test/v1/items?token=REDACTED&page=REDACTED for details',
          headers: REDACTED,
        },
      ],
    });
    expect(JSON.stringify(redacted)).not.toContain('pw-123');
  });

  it('does not recurse without bound into a hostile, deeply nested document', () => {
    // Prepare
    let deep: unknown = 'http://alice:s3cret@api.test/';
    for (let i = 0; i < 100_000; i += 1) deep = [deep];

    // Act
    const redacted = redactPayload({ tasks: deep });

    // Assess
    expectNoSecrets(redacted);
  });
});

describe('failure records hold a redacted payload', () => {
  it('a continuation that cannot be invoked: payload and reason redacted, marked as such', async () => {
    // Prepare
    const clock = new ManualClock();
    const s3 = fakeS3();
    const refused = Object.assign(new Error(`payload rejected: it names ${SECRET_URL}`), {
      name: 'InvalidRequestContentException',
      $metadata: { httpStatusCode: 400 },
    });
    const deps = await testDeps({
      clock,
      s3,
      // 10 s left and a 15 s margin: the task is handed on without being started.
      context: fakeContext({ clock, timeoutMs: 10_000 }),
      transport: scriptedTransport(() => ({ status: 304 })),
      invokeContinuation: async () => {
        throw refused;
      },
    });
    const input = payload([{ source: { id: 'secret', url: SECRET_URL, headers: SECRET_HEADERS } }]);

    // Act
    const summary = await collectBatch(input, deps);

    // Assess
    const key = batchFailureKey(RUN_ID, 'b00001', 1);
    expect(summary.continuationFailureKey).toBe(key);
    const record = putJson(s3, key);
    expect(record).toMatchObject({
      kind: 'continuation-failed',
      sourceIds: ['secret'],
      payloadRedacted: true,
      reason:
        'InvalidRequestContentException: payload rejected: it names http://api.test/v1/items?token=REDACTED&page=REDACTED',
      payload: {
        hop: 1,
        tasks: [
          {
            source: {
              id: 'secret',
              url: 'http://api.test/v1/items?token=REDACTED&page=REDACTED',
              headers: { Authorization: REDACTED, 'X-Api-Key': REDACTED },
            },
          },
        ],
      },
    });
    expectNoSecrets(record);
    expectNoSecrets(deps.log.entries);
  });

  it('an invalid payload: stored redacted and marked as such, its reason redacted', async () => {
    // Prepare
    const s3 = fakeS3();
    const deps = await testDeps({ s3 });
    const event = {
      version: 1,
      runId: RUN_ID,
      scheduledAt: '2026-11-25T13:10:00Z',
      batchId: 'b00002',
      hop: 0,
      tasks: [
        {
          source: { id: 'secret', url: SECRET_URL, format: 'json', headers: SECRET_HEADERS },
          estimateMs: -1,
        },
        { source: { id: 'bad-url', url: { href: SECRET_URL }, format: 'json' }, estimateMs: 1 },
      ],
    };

    // Act
    const outcome = await handleCollectorEvent(event, deps);

    // Assess
    const key = batchFailureKey(RUN_ID, 'b00002', 0);
    expect(outcome).toMatchObject({ kind: 'invalid', key });
    const record = putJson(s3, key) as { payload: { tasks: unknown[] }; reason: string };
    expect(record).toMatchObject({
      kind: 'invalid-payload',
      payloadRedacted: true,
      sourceIds: ['secret', 'bad-url'],
    });
    expect(record.reason).toContain('tasks[0].estimateMs');
    expect(record.reason).toContain('tasks[1].source.url');
    expect(record.payload.tasks[0]).toEqual({
      source: {
        id: 'secret',
        url: 'http://api.test/v1/items?token=REDACTED&page=REDACTED',
        format: 'json',
        headers: { Authorization: REDACTED, 'X-Api-Key': REDACTED },
      },
      estimateMs: -1,
    });
    expectNoSecrets(record);
    expectNoSecrets(outcome);
    expectNoSecrets(deps.log.entries);
  });
});

describe('failure reasons of unexpected errors', () => {
  it('redacts URLs in the reason of an error the collector did not foresee', async () => {
    // Prepare: the clock fails once, when the page is recorded (its fourth reading, after
    // the task's start, the attempt's and the body's), with a URL in its message.
    let calls = 0;
    const clock: Clock = {
      now: () => {
        calls += 1;
        if (calls === 4) throw new Error(`clock broken while reading ${SECRET_URL}`);
        return Date.parse('2026-11-25T13:10:00Z');
      },
    };
    const s3 = fakeS3();
    const deps = await testDeps({
      s3,
      clock,
      context: fakeContext({ timeoutMs: 300_000 }),
      transport: scriptedTransport(() => ({ status: 200, body: '{}' })),
    });

    // Act
    const summary = await collectBatch(
      payload([{ source: { id: 'secret', url: SECRET_URL } }]),
      deps,
    );

    // Assess
    expect(summary.result.outcomes).toEqual([
      expect.objectContaining({
        status: 'failed',
        sourceId: 'secret',
        reason:
          'unexpected error: Error: clock broken while reading http://api.test/v1/items?token=REDACTED&page=REDACTED',
      }),
    ]);
    expectNoSecrets(summary.result);
    expectNoSecrets(deps.log.entries);
  });
});

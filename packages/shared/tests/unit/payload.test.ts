import { describe, expect, it } from 'vitest';
import {
  ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES,
  type CollectorPayload,
  ContractValidationError,
  parseCollectorPayload,
  payloadSize,
} from '../../src/index.js';
import { aCollectorPayload, aSource, SHA256 } from '../helpers/factories.js';

function issuesOf(value: unknown): readonly string[] {
  try {
    parseCollectorPayload(value);
  } catch (error) {
    if (error instanceof ContractValidationError) {
      expect(error.subject).toBe('collector payload');
      return error.issues;
    }
    throw error;
  }
  throw new Error('expected the payload to be rejected');
}

describe('parseCollectorPayload', () => {
  it('accepts a payload and fills the source defaults', () => {
    // Act
    const payload = parseCollectorPayload(aCollectorPayload());

    // Assess
    expect(payload.tasks[0]?.source).toMatchObject({
      id: 'weather-api',
      timeoutMs: 10_000,
      allowPrivateNetwork: false,
      options: {},
    });
  });

  it('carries the previous validators and a continuation hop', () => {
    // Prepare
    const input = aCollectorPayload({
      hop: 3,
      tasks: [
        {
          source: aSource(),
          previous: {
            etag: 'W/"1"',
            lastModified: 'Wed, 25 Nov 2026 13:00:00 GMT',
            sha256: SHA256,
          },
          estimateMs: 0,
        },
      ],
    });

    // Act
    const payload = parseCollectorPayload(input);

    // Assess
    expect(payload.hop).toBe(3);
    expect(payload.tasks[0]?.previous?.sha256).toBe(SHA256);
  });

  it('survives a JSON round trip unchanged (what the Invoke API carries)', () => {
    // Prepare
    const payload = parseCollectorPayload(aCollectorPayload());

    // Act
    const again = parseCollectorPayload(JSON.parse(JSON.stringify(payload)));

    // Assess
    expect(again).toEqual(payload);
  });

  it.each([
    [{ version: 2 }, 'version: Invalid input: expected 1, got 2'],
    [
      { runId: 'a b' },
      'runId: must be 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit, got "a b"',
    ],
    [{ scheduledAt: 'noon' }, 'scheduledAt: Invalid ISO datetime, got "noon"'],
    [{ batchId: 'b1' }, 'batchId: must look like b00042, got "b1"'],
    [{ hop: -1 }, 'hop: Too small: expected number to be >=0, got -1'],
    [{ tasks: [] }, 'tasks: Too small: expected array to have >=1 items, got []'],
  ])('rejects %j, naming the field and value', (overrides, issue) => {
    expect(issuesOf(aCollectorPayload(overrides as Partial<CollectorPayload>))).toEqual([issue]);
  });

  it('names the task and source field of a bad source', () => {
    // Prepare
    const input = aCollectorPayload({
      tasks: [
        { source: aSource(), estimateMs: 1 },
        { source: aSource({ url: 'ftp://x.test/' }), estimateMs: 1 },
      ],
    });

    // Act
    const issues = issuesOf(input);

    // Assess
    expect(issues).toEqual(['tasks[1].source.url: must be http or https, got "ftp://x.test/"']);
  });

  it('rejects a malformed previous hash and unknown task fields', () => {
    // Prepare
    const input = aCollectorPayload({
      tasks: [
        { source: aSource(), previous: { sha256: 'ABC' }, estimateMs: 1, retry: true } as never,
      ],
    });

    // Act
    const issues = issuesOf(input);

    // Assess
    expect(issues).toContain('tasks[0].previous.sha256: must be a hex sha256, got "ABC"');
    expect(issues.some((line) => line.startsWith('tasks[0]: Unrecognized key: "retry"'))).toBe(
      true,
    );
  });

  it('carries where an interrupted download resumes, and rejects a resume at byte 0', () => {
    // Prepare
    const resume = {
      key: 'runs/20261125T131000Z/partial/b00000-weather-api.part',
      bytes: 1_048_576,
      validator: '"v7"',
      totalBytes: 31_457_280,
      downloadMs: 4_000,
    };
    const ok = aCollectorPayload({ tasks: [{ source: aSource(), estimateMs: 1, resume }] });
    const bad = aCollectorPayload({
      tasks: [{ source: aSource(), estimateMs: 1, resume: { ...resume, bytes: 0 } }],
    });

    // Act
    const payload = parseCollectorPayload(ok);
    const issues = issuesOf(bad);

    // Assess
    expect(payload.tasks[0]?.resume).toEqual(resume);
    expect(issues).toEqual(['tasks[0].resume.bytes: Too small: expected number to be >0, got 0']);
  });

  it.each([null, 'payload', []])('rejects %j as a whole', (value) => {
    expect(issuesOf(value)[0]).toMatch(/^\(root\): Invalid input: expected object/);
  });
});

describe('payloadSize', () => {
  it('equals the UTF-8 byte length of the JSON the Invoke API sends', () => {
    // Prepare
    const payload = aCollectorPayload({
      tasks: [{ source: aSource({ headers: { 'X-City': 'Zürich 東京 🚀' } }), estimateMs: 5 }],
    });

    // Act
    const size = payloadSize(payload);

    // Assess
    expect(size).toBe(Buffer.byteLength(JSON.stringify(payload), 'utf8'));
    expect(size).toBeGreaterThan(JSON.stringify(payload).length);
  });

  it('grows with every task added', () => {
    // Prepare
    const tasks = Array.from({ length: 5 }, (_, index) => ({
      source: aSource({ id: `s${index}` }),
      estimateMs: 100,
    }));

    // Act
    const sizes = tasks.map((_, count) =>
      payloadSize(aCollectorPayload({ tasks: tasks.slice(0, count + 1) })),
    );

    // Assess
    for (let index = 1; index < sizes.length; index += 1) {
      expect(sizes[index]).toBeGreaterThan(sizes[index - 1] ?? Number.POSITIVE_INFINITY);
    }
  });

  it('shows when a batch passes the async invoke limit', () => {
    // Prepare
    const longHeader = 'x'.repeat(2_000);
    const tasks = Array.from({ length: 600 }, (_, index) => ({
      source: aSource({ id: `s${index}`, headers: { Authorization: longHeader } }),
      estimateMs: 100,
    }));

    // Act
    const size = payloadSize(aCollectorPayload({ tasks }));

    // Assess
    expect(size).toBeGreaterThan(ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES);
    expect(payloadSize(aCollectorPayload())).toBeLessThan(1_000);
  });
});

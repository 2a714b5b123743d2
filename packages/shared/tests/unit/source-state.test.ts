import { describe, expect, it } from 'vitest';
import {
  carriedToTask,
  isPermanentFailure,
  mergeOutcome,
  parseOffScheduleLog,
  type Source,
  SourceSchema,
  sourceDefinition,
  stateForDefinition,
  withOffScheduleEntry,
} from '../../src/index.js';
import { aSource, failedOutcome, okOutcome, unchangedOutcome } from '../helpers/factories.js';

function source(overrides: Parameters<typeof aSource>[0] = {}): Source {
  return SourceSchema.parse(aSource(overrides));
}

describe('sourceDefinition', () => {
  it('is stable for the same entry, whatever the order of its keys', () => {
    const a = source({ headers: { Accept: 'application/json', 'X-Team': 'data' } });
    const b = source({ headers: { 'X-Team': 'data', Accept: 'application/json' } });
    expect(sourceDefinition(a)).toBe(sourceDefinition(b));
    expect(sourceDefinition(a)).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });

  it('changes with what is fetched and how it parses', () => {
    const base = sourceDefinition(source());
    for (const edited of [
      source({ url: 'https://api.example.test/v2/weather' }),
      source({ format: 'ndjson' }),
      source({ options: { recordsPath: 'data.items' } }),
      source({ headers: { Accept: 'text/csv' } }),
      source({ query: { city: 'Oslo' } }),
      source({ headers: { Authorization: { secret: 'ssm:/fanout/other-token' } } }),
      source({ pagination: { type: 'link-header' } }),
      source({ cursor: { field: 'updated' } }),
      source({ cursor: { field: 'updated', param: 'since' } }),
    ]) {
      expect(sourceDefinition(edited)).not.toBe(base);
    }
  });

  it('is unchanged for a source without a cursor (adding the field changed no fingerprint)', () => {
    // What the code before cursors existed gives this entry (computed with that commit's
    // source-state.ts): stored states keep their validators through the upgrade.
    expect(sourceDefinition(source())).toBe('KMot3CMyrcK9h-Y8');
    expect(sourceDefinition(source({ emit: 'changes' }))).toBe('KMot3CMyrcK9h-Y8');
  });

  it('does not change with settings that only tune when and how patiently it is fetched', () => {
    const base = sourceDefinition(source());
    for (const tuned of [
      source({ every: '1h' }),
      source({ timeoutMs: 30_000 }),
      source({ expectedDurationMs: 5_000 }),
      source({ maxBytes: 1_000 }),
      source({ allowPrivateNetwork: true }),
      source({ emit: 'changes' }),
    ]) {
      expect(sourceDefinition(tuned)).toBe(base);
    }
  });
});

describe('stateForDefinition', () => {
  const kept = { validators: { etag: '"v1"' }, durationsMs: [300], bytes: 2_048 };

  it('drops the validators and body size of an edited source, and keeps its durations', () => {
    expect(stateForDefinition({ ...kept, definition: 'old' }, 'new')).toEqual({
      validators: {},
      durationsMs: [300],
      definition: 'new',
    });
  });

  it('drops the previous fetch and the cursor of an edited source: its next fetch emits everything', () => {
    const seen = { ...kept, rawKeys: ['raw/packs/a.pack.ndjson.gz'], cursor: '"2026-12-06"' };
    expect(stateForDefinition({ ...seen, definition: 'old' }, 'new')).toEqual({
      validators: {},
      durationsMs: [300],
      definition: 'new',
    });
    expect(stateForDefinition({ ...seen, definition: 'same' }, 'same')).toEqual({
      ...seen,
      definition: 'same',
    });
  });

  it('keeps everything when the definition is the same, or was never recorded', () => {
    expect(stateForDefinition({ ...kept, definition: 'same' }, 'same')).toEqual({
      ...kept,
      definition: 'same',
    });
    expect(stateForDefinition(kept, 'first')).toEqual({ ...kept, definition: 'first' });
  });

  it('starts a source without state with its definition', () => {
    expect(stateForDefinition(undefined, 'd')).toEqual({
      validators: {},
      durationsMs: [],
      definition: 'd',
    });
  });
});

describe('carriedToTask', () => {
  it('sends the validators and the last body size, and nothing when there are none', () => {
    expect(
      carriedToTask({
        validators: { etag: '"v1"', sha256: 'a'.repeat(64) },
        durationsMs: [],
        bytes: 9,
      }),
    ).toEqual({ previous: { etag: '"v1"', sha256: 'a'.repeat(64) }, expectedBytes: 9 });
    expect(carriedToTask({ validators: {}, durationsMs: [] })).toEqual({});
    expect(carriedToTask(undefined)).toEqual({});
  });

  it("sends the previous fetch's raw keys and the cursor", () => {
    expect(
      carriedToTask({ validators: {}, durationsMs: [], rawKeys: ['raw/a', 'raw/b'], cursor: '42' }),
    ).toEqual({ previousRawKeys: ['raw/a', 'raw/b'], cursor: '42' });
  });
});

describe('mergeOutcome', () => {
  const context = { runId: 'r2', durationsKept: 2 };

  it("takes an ok outcome's validators, size and duration", () => {
    const merged = mergeOutcome(
      { validators: { etag: '"old"' }, durationsMs: [100, 200], definition: 'd' },
      okOutcome('a', { bytes: 77, durationMs: 300, validators: { etag: '"new"' } }),
      { ...context, ranWith: 'd' },
    );
    expect(merged).toMatchObject({
      validators: { etag: '"new"' },
      durationsMs: [200, 300],
      bytes: 77,
      definition: 'd',
      lastRunId: 'r2',
      lastStatus: 'ok',
    });
  });

  it('keeps validators and size through a failure, and through an unchanged outcome the size', () => {
    const previous = { validators: { etag: '"old"' }, durationsMs: [], bytes: 5 };
    expect(mergeOutcome(previous, failedOutcome('a'), context)).toMatchObject({
      validators: { etag: '"old"' },
      bytes: 5,
      lastStatus: 'failed',
    });
    expect(mergeOutcome(previous, unchangedOutcome('a'), context)).toMatchObject({
      validators: { etag: '"abc"' },
      bytes: 5,
    });
  });

  it('skips an outcome fetched with a definition the source no longer has', () => {
    const previous = { validators: {}, durationsMs: [], definition: 'edited' };
    expect(mergeOutcome(previous, okOutcome('a'), { ...context, ranWith: 'before' })).toBe(
      undefined,
    );
  });

  it("keeps an ok outcome's distinct raw keys for a source that emits changes, and only then", () => {
    const outcome = okOutcome('a', { rawKeys: ['raw/p', 'raw/p', 'raw/s'] });
    const kept = mergeOutcome(undefined, outcome, {
      ...context,
      records: { keepRawKeys: true },
    });
    expect(kept?.rawKeys).toEqual(['raw/p', 'raw/s']);
    const previous = { validators: {}, durationsMs: [], rawKeys: ['raw/old'] };
    expect(
      mergeOutcome(previous, outcome, { ...context, records: { keepRawKeys: false } }),
    ).not.toHaveProperty('rawKeys');
    // A 304 or an unchanged body brings nothing new to compare with: the last fetch's stay.
    expect(mergeOutcome(previous, unchangedOutcome('a'), context)?.rawKeys).toEqual(['raw/old']);
    expect(mergeOutcome(previous, failedOutcome('a'), context)?.rawKeys).toEqual(['raw/old']);
  });

  it('raises the cursor to what the parse reported, and never lowers it', () => {
    const previous = { validators: {}, durationsMs: [], cursor: '"2026-12-06T10:00:00Z"' };
    const at = (cursor: string | undefined) =>
      mergeOutcome(previous, okOutcome('a'), {
        ...context,
        records: { keepRawKeys: false, ...(cursor !== undefined ? { cursor } : {}) },
      })?.cursor;
    expect(at('"2026-12-06T10:05:00Z"')).toBe('"2026-12-06T10:05:00Z"');
    expect(at('"2026-12-06T09:00:00Z"')).toBe('"2026-12-06T10:00:00Z"');
    // Not parsed yet, or quarantined: nothing reported, the cursor stays.
    expect(at(undefined)).toBe('"2026-12-06T10:00:00Z"');
    expect(mergeOutcome(previous, failedOutcome('a'), context)?.cursor).toBe(previous.cursor);
  });

  it('skips an outcome no newer than the last merged one (merging is idempotent)', () => {
    const outcome = okOutcome('a');
    const once = mergeOutcome(undefined, outcome, context);
    expect(mergeOutcome(once, outcome, context)).toBe(undefined);
  });
});

describe('isPermanentFailure', () => {
  it('is a 4xx other than 408 and 429, or what the collector marked permanent', () => {
    const failed = failedOutcome('a');
    expect(isPermanentFailure({ ...failed, httpStatus: 404 })).toBe(true);
    expect(isPermanentFailure({ ...failed, httpStatus: 410 })).toBe(true);
    expect(isPermanentFailure({ ...failed, httpStatus: 408 })).toBe(false);
    expect(isPermanentFailure({ ...failed, httpStatus: 429 })).toBe(false);
    expect(isPermanentFailure({ ...failed, httpStatus: 503 })).toBe(false);
    expect(isPermanentFailure(failed)).toBe(false);
    expect(isPermanentFailure({ ...failed, permanent: true })).toBe(true);
    expect(isPermanentFailure(okOutcome('a'))).toBe(false);
  });
});

describe('the off-schedule log', () => {
  it('reads back what was written, and an unreadable one as empty with the problem', () => {
    const log = withOffScheduleEntry(
      { version: 1, entries: [] },
      { kind: 'manual', runId: 'm1', at: '2026-11-25T13:10:00.000Z' },
    );
    expect(parseOffScheduleLog(JSON.stringify(log))).toEqual({ log });
    const broken = parseOffScheduleLog('{"version":1,"entries":[{"kind":"nope"}]');
    expect(broken.log.entries).toEqual([]);
    expect(broken.problem).toMatch(/not JSON/);
    const invalid = parseOffScheduleLog('{"version":1,"entries":[{"kind":"nope"}]}');
    expect(invalid.problem).toMatch(/entries\[0\]\.kind/);
  });

  it('keeps the newest 100 entries', () => {
    let log = { version: 1 as const, entries: [] as never[] } as ReturnType<
      typeof withOffScheduleEntry
    >;
    for (let i = 0; i < 105; i += 1) {
      log = withOffScheduleEntry(log, {
        kind: 'replay',
        runId: `r${i}`,
        at: '2026-11-25T13:10:00.000Z',
        batchIds: ['b900000'],
      });
    }
    expect(log.entries).toHaveLength(100);
    expect(log.entries[0]?.runId).toBe('r5');
    expect(log.entries.at(-1)?.runId).toBe('r104');
  });
});

import { describe, expect, it } from 'vitest';
import { computeRunStatus, finalOutcomes, type RunRecords } from '../../src/index.js';
import {
  aBatchFailure,
  aBatchResult,
  aRunManifest,
  failedOutcome,
  okOutcome,
  parsedOk,
  parsedQuarantined,
  RUN_ID,
  rawKeyOf,
  unchangedOutcome,
} from '../helpers/factories.js';

function records(overrides: Partial<RunRecords>): RunRecords {
  return { manifest: undefined, results: [], failures: [], rawOutcomes: new Map(), ...overrides };
}

describe('computeRunStatus', () => {
  it('is complete when every task has an outcome and every raw object a parse outcome', () => {
    // Prepare
    const input = records({
      manifest: aRunManifest([
        ['a', 'b'],
        ['c', 'd'],
      ]),
      results: [
        aBatchResult([okOutcome('a'), unchangedOutcome('b')]),
        aBatchResult([okOutcome('c'), failedOutcome('d')], { batchId: 'b00001' }),
      ],
      rawOutcomes: new Map([parsedOk(rawKeyOf('a')), parsedQuarantined(rawKeyOf('c'))]),
    });

    // Act
    const status = computeRunStatus(RUN_ID, input);

    // Assess
    expect(status).toEqual({
      runId: RUN_ID,
      runState: 'dispatched',
      complete: true,
      sources: 4,
      detailTasks: 0,
      collected: 2,
      unchanged: 1,
      notDue: 0,
      failed: 1,
      pending: 0,
      rawObjects: 2,
      pages: 2,
      parsed: 1,
      quarantined: 1,
      unparsed: 0,
      batches: 2,
      failedBatches: 0,
      pendingSourceIds: [],
      unparsedKeys: [],
    });
  });

  it('counts sources whose cadence was not due apart: in the run, neither pending nor failed', () => {
    // Prepare
    const input = records({
      manifest: aRunManifest([['a', 'b']], { notDueSourceIds: ['daily', 'hourly'] }),
      results: [aBatchResult([unchangedOutcome('a'), unchangedOutcome('b')])],
    });

    // Act
    const status = computeRunStatus(RUN_ID, input);

    // Assess
    expect(status).toMatchObject({
      complete: true,
      sources: 4,
      unchanged: 2,
      notDue: 2,
      failed: 0,
      pending: 0,
    });
  });

  it('is complete when no source was due', () => {
    // Act
    const status = computeRunStatus(
      RUN_ID,
      records({ manifest: aRunManifest([], { notDueSourceIds: ['daily'] }) }),
    );

    // Assess
    expect(status).toMatchObject({ complete: true, sources: 1, notDue: 1, batches: 0 });
  });

  it('is incomplete while planned tasks have no outcome', () => {
    // Prepare
    const input = records({
      manifest: aRunManifest([['a'], ['b', 'c']]),
      results: [aBatchResult([unchangedOutcome('a')])],
    });

    // Act
    const status = computeRunStatus(RUN_ID, input);

    // Assess
    expect(status).toMatchObject({ complete: false, pending: 2, pendingSourceIds: ['b', 'c'] });
  });

  it('is incomplete while a raw object has no parse outcome, and names it', () => {
    // Prepare
    const secondPage = rawKeyOf('a', 1);
    const input = records({
      manifest: aRunManifest([['a']]),
      results: [aBatchResult([okOutcome('a', { rawKeys: [rawKeyOf('a'), secondPage] })])],
      rawOutcomes: new Map([parsedOk(rawKeyOf('a'))]),
    });

    // Act
    const status = computeRunStatus(RUN_ID, input);

    // Assess
    expect(status).toMatchObject({
      complete: false,
      rawObjects: 2,
      parsed: 1,
      unparsed: 1,
      unparsedKeys: [secondPage],
    });
  });

  it('ignores parse outcomes of raw objects outside the run', () => {
    // Prepare
    const input = records({
      manifest: aRunManifest([['a']]),
      results: [aBatchResult([unchangedOutcome('a')])],
      rawOutcomes: new Map([parsedOk(rawKeyOf('elsewhere'))]),
    });

    // Act
    const status = computeRunStatus(RUN_ID, input);

    // Assess
    expect(status).toMatchObject({ complete: true, rawObjects: 0, parsed: 0 });
  });

  it('counts invalid manifest entries as failed sources', () => {
    // Prepare
    const input = records({
      manifest: aRunManifest([['a']], {
        invalidSources: [
          { index: 1, id: 'b', errors: ['sources[1].url: must be http or https, got "ftp://x"'] },
          { index: 2, errors: ['sources[2]: Invalid input: expected object, received null'] },
        ],
      }),
      results: [aBatchResult([unchangedOutcome('a')])],
    });

    // Act
    const status = computeRunStatus(RUN_ID, input);

    // Assess
    expect(status).toMatchObject({ complete: true, sources: 3, unchanged: 1, failed: 2 });
  });

  it('counts the sources of a failure record as failed, not pending', () => {
    // Prepare
    const input = records({
      manifest: aRunManifest([['a'], ['b', 'c']]),
      results: [aBatchResult([unchangedOutcome('a')])],
      failures: [aBatchFailure(['b', 'c'])],
    });

    // Act
    const status = computeRunStatus(RUN_ID, input);

    // Assess
    expect(status).toMatchObject({
      complete: true,
      failed: 2,
      pending: 0,
      failedBatches: 1,
    });
  });

  it('lets an outcome win over a failure record for the same source', () => {
    // Prepare
    const input = records({
      manifest: aRunManifest([['a', 'b']]),
      results: [aBatchResult([unchangedOutcome('a'), unchangedOutcome('b')])],
      failures: [aBatchFailure(['b'], { kind: 'continuation-failed', batchId: 'b00000', hop: 1 })],
    });

    // Act
    const status = computeRunStatus(RUN_ID, input);

    // Assess
    expect(status).toMatchObject({ unchanged: 2, failed: 0, failedBatches: 1 });
  });

  it('counts failure records of one batch once, and of different batches apart', () => {
    // Prepare
    const input = records({
      manifest: aRunManifest([['a'], ['b'], ['c']]),
      failures: [
        aBatchFailure(['a'], { batchId: 'b00000', hop: 0 }),
        aBatchFailure(['a'], { batchId: 'b00000', hop: 1 }),
        aBatchFailure(['b'], { batchId: 'b00001' }),
      ],
    });

    // Act
    const status = computeRunStatus(RUN_ID, input);

    // Assess
    expect(status).toMatchObject({ failedBatches: 2, failed: 2, pending: 1 });
  });

  it('takes the latest outcome when a retry redid a task', () => {
    // Prepare
    const input = records({
      manifest: aRunManifest([['a']]),
      results: [
        aBatchResult([okOutcome('a', { finishedAt: '2026-11-25T13:14:00.000Z' })], { hop: 1 }),
        aBatchResult([failedOutcome('a', '2026-11-25T13:11:00.000Z')]),
      ],
      rawOutcomes: new Map([parsedOk(rawKeyOf('a'))]),
    });

    // Act
    const status = computeRunStatus(RUN_ID, input);

    // Assess
    expect(status).toMatchObject({ complete: true, collected: 1, failed: 0, parsed: 1 });
  });

  it('lets the later record win when two outcomes finished at the same instant', () => {
    // Prepare
    const results = [
      aBatchResult([failedOutcome('a', '2026-11-25T13:11:00Z')]),
      aBatchResult([unchangedOutcome('a', '2026-11-25T13:11:00.000Z')]),
    ];

    // Act
    const outcomes = finalOutcomes(results);

    // Assess
    expect(outcomes.get('a')?.status).toBe('unchanged');
  });

  it.each([
    ['mixed precision', '2026-11-25T13:11:00Z', '2026-11-25T13:11:00.500Z'],
    ['offsets', '2026-11-25T14:05:00+01:00', '2026-11-25T13:11:00Z'],
  ])('compares finish times as instants with %s', (_, earlier, later) => {
    // Prepare
    const results = [
      aBatchResult([okOutcome('a', { finishedAt: later })]),
      aBatchResult([failedOutcome('a', earlier)]),
    ];

    // Act
    const outcomes = finalOutcomes(results);

    // Assess
    expect(outcomes.get('a')?.status).toBe('ok');
  });

  it('is complete for a failed run, whatever is missing', () => {
    // Prepare
    const input = records({
      manifest: aRunManifest([], { status: 'failed', reason: 'manifest is not valid JSON' }),
    });

    // Act
    const status = computeRunStatus(RUN_ID, input);

    // Assess
    expect(status).toMatchObject({ runState: 'failed', complete: true, sources: 0 });
  });

  it('is incomplete and unknown without a run manifest', () => {
    // Prepare
    const input = records({ results: [aBatchResult([okOutcome('a')])] });

    // Act
    const status = computeRunStatus(RUN_ID, input);

    // Assess
    expect(status).toMatchObject({
      runState: 'unknown',
      complete: false,
      sources: 0,
      batches: 0,
      collected: 0,
    });
  });

  it('is incomplete for a planned run that has not dispatched yet', () => {
    // Prepare
    const input = records({ manifest: aRunManifest([['a']], { status: 'planned' }) });

    // Act
    const status = computeRunStatus(RUN_ID, input);

    // Assess
    expect(status).toMatchObject({ runState: 'planned', complete: false, pending: 1 });
  });
});

describe('computeRunStatus with packs', () => {
  const PACK = 'raw/packs/dt=2026-11-25/20261125T131000Z-b00000-h0.pack.ndjson.gz';

  it("counts the pages of a pack from the parser's outcome", () => {
    // Prepare
    const input = records({
      manifest: aRunManifest([['a', 'b', 'c']]),
      results: [
        aBatchResult([
          okOutcome('a', { rawKeys: [PACK, PACK] }),
          okOutcome('b', { rawKeys: [PACK] }),
          unchangedOutcome('c'),
        ]),
      ],
      rawOutcomes: new Map([parsedOk(PACK, { pages: 3, parsed: 2, quarantined: 1 })]),
    });

    // Act
    const status = computeRunStatus(RUN_ID, input);

    // Assess
    expect(status).toMatchObject({
      complete: true,
      rawObjects: 1,
      pages: 3,
      parsed: 2,
      quarantined: 1,
      unparsed: 0,
    });
  });

  it('waits for the parse of a pack that a retried hop rewrote with other pages', () => {
    // Prepare: the outcome counts 2 pages; the hop's final record names 3.
    const input = records({
      manifest: aRunManifest([['a', 'b']]),
      results: [
        aBatchResult([
          okOutcome('a', { rawKeys: [PACK, PACK] }),
          okOutcome('b', { rawKeys: [PACK] }),
        ]),
      ],
      rawOutcomes: new Map([parsedOk(PACK, { pages: 2, parsed: 2 })]),
    });

    // Act
    const status = computeRunStatus(RUN_ID, input);

    // Assess
    expect(status).toMatchObject({
      complete: false,
      parsed: 2,
      quarantined: 0,
      unparsed: 1,
      unparsedKeys: [PACK],
    });
  });

  it('is complete when a duplicate hop left a page in the pack that a later hop redid', () => {
    // Prepare: the pack holds a's and b's pages; b's final outcome is from hop 1's pack.
    const LATER = PACK.replace('-h0.', '-h1.');
    const input = records({
      manifest: aRunManifest([['a', 'b']]),
      results: [
        aBatchResult([okOutcome('a', { rawKeys: [PACK] })]),
        aBatchResult([okOutcome('b', { rawKeys: [LATER], finishedAt: '2026-11-25T13:12:00Z' })], {
          hop: 1,
        }),
      ],
      rawOutcomes: new Map([
        parsedOk(PACK, { pages: 2, parsed: 2 }),
        parsedOk(LATER, { pages: 1, parsed: 1 }),
      ]),
    });

    // Act
    const status = computeRunStatus(RUN_ID, input);

    // Assess
    expect(status).toMatchObject({ complete: true, pages: 2, parsed: 2, unparsed: 0 });
  });
});

import { describe, expect, it } from 'vitest';
import {
  BatchFailureSchema,
  BatchResultSchema,
  ContractValidationError,
  check,
  fromParsedObjectMetadata,
  fromS3Metadata,
  ParsedObjectOutcomeSchema,
  QuarantineReportSchema,
  RawObjectMetadataSchema,
  RunManifestSchema,
  S3_USER_METADATA_MAX_BYTES,
  StateSnapshotSchema,
  TaskOutcomeSchema,
  toParsedObjectMetadata,
  toS3Metadata,
} from '../../src/index.js';
import {
  aBatchFailure,
  aBatchResult,
  aParsedObjectOutcome,
  aRunManifest,
  failedOutcome,
  okOutcome,
  RUN_ID,
  rawKeyOf,
  rawMetadata,
  unchangedOutcome,
} from '../helpers/factories.js';

function metadataIssues(metadata: Record<string, string> | undefined): readonly string[] {
  try {
    fromS3Metadata(metadata);
  } catch (error) {
    if (error instanceof ContractValidationError) {
      expect(error.subject).toBe('raw object metadata');
      return error.issues;
    }
    throw error;
  }
  throw new Error('expected the metadata to be rejected');
}

describe('raw object metadata', () => {
  it('round trips through S3 user metadata', () => {
    // Prepare
    const meta = rawMetadata();

    // Act
    const back = fromS3Metadata(toS3Metadata(meta));

    // Assess
    expect(back).toEqual(meta);
  });

  it('carries the page URL while the metadata stays within S3 limit, and leaves it out past it', () => {
    // Prepare
    const url = 'https://shop.example/catalog/list?page=REDACTED';
    const long = `https://shop.example/${'a'.repeat(1800)}`;

    // Act
    const stored = toS3Metadata(rawMetadata({ url }));
    const tooLong = toS3Metadata(rawMetadata({ url: long }));

    // Assess
    expect(stored.url).toBe(url);
    expect(fromS3Metadata(stored).url).toBe(url);
    expect(tooLong.url).toBeUndefined();
    const bytes = Object.entries(stored).reduce((n, [k, v]) => n + k.length + v.length, 0);
    expect(bytes).toBeLessThanOrEqual(S3_USER_METADATA_MAX_BYTES);
  });

  it('round trips without the optional fields', () => {
    // Prepare
    const { batchId: _batch, contentType: _type, ...meta } = rawMetadata({ formatOptions: {} });

    // Act
    const stored = toS3Metadata(meta);

    // Assess
    expect(stored).not.toHaveProperty('batch-id');
    expect(stored).not.toHaveProperty('upstream-content-type');
    expect(fromS3Metadata(stored)).toEqual(meta);
  });

  it('stores only lowercase names and ASCII string values, as S3 headers require', () => {
    // Prepare
    const meta = rawMetadata({
      formatOptions: { delimiter: '§', recordsPath: 'données.élément' },
      contentType: 'text/csv; name="résumé.csv"',
    });

    // Act
    const stored = toS3Metadata(meta);

    // Assess
    for (const [name, value] of Object.entries(stored)) {
      expect(name).toMatch(/^[a-z0-9-]+$/);
      expect(value).toMatch(/^[\x20-\x7e]*$/);
    }
    expect(fromS3Metadata(stored).formatOptions).toEqual(meta.formatOptions);
    expect(fromS3Metadata(stored).contentType).toBe('text/csv; name="rsum.csv"');
  });

  it('reads the metadata as the SDK returns it, every value a string', () => {
    // Act
    const meta = fromS3Metadata({
      'run-id': RUN_ID,
      'source-id': 'weather-api',
      format: 'json',
      'fetched-at': '2026-11-25T13:10:30.000Z',
      'scheduled-at': '2026-11-25T13:10:00Z',
      sha256: 'b'.repeat(64),
      'http-status': '203',
      page: '12',
    });

    // Assess
    expect(meta).toMatchObject({ httpStatus: 203, page: 12, formatOptions: {} });
  });

  it('names each missing field when there is no metadata at all', () => {
    // Act
    const issues = metadataIssues(undefined);

    // Assess
    expect(issues.map((line) => line.split(':')[0])).toEqual([
      'metadata.runId',
      'metadata.sourceId',
      'metadata.format',
      'metadata.fetchedAt',
      'metadata.scheduledAt',
      'metadata.sha256',
      'metadata.httpStatus',
      'metadata.page',
    ]);
    for (const line of issues) expect(line).toMatch(/got nothing$/);
  });

  it.each([
    [
      'http-status',
      'OK',
      'metadata.httpStatus: Invalid input: expected number, received string, got "OK"',
    ],
    ['http-status', '99', 'metadata.httpStatus: Too small: expected number to be >=100, got 99'],
    ['page', '', 'metadata.page: Invalid input: expected number, received string, got ""'],
    ['page', '-1', 'metadata.page: Too small: expected number to be >=0, got -1'],
    ['page', '1.5', 'metadata.page: Invalid input: expected number, received string, got "1.5"'],
    ['format-options', '{', 'metadata.format-options: not valid JSON, got "{"'],
    [
      'format-options',
      '{"sep":","}',
      'metadata.formatOptions: Unrecognized key: "sep", got {"sep":","}',
    ],
    [
      'sha256',
      'abc',
      'metadata.sha256: Invalid string: must match pattern /^[0-9a-f]{64}$/, got "abc"',
    ],
    [
      'run-id',
      'a/b',
      'metadata.runId: must be 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit, got "a/b"',
    ],
    ['fetched-at', 'now', 'metadata.fetchedAt: Invalid ISO datetime, got "now"'],
  ])('rejects %s %j with the offending value', (name, value, issue) => {
    // Prepare
    const stored = { ...toS3Metadata(rawMetadata()), [name]: value };

    // Act
    const issues = metadataIssues(stored);

    // Assess
    expect(issues).toEqual([issue]);
  });
});

describe('TaskOutcomeSchema', () => {
  it.each([
    ['ok', okOutcome('a')],
    ['unchanged', unchangedOutcome('a')],
    ['failed', failedOutcome('a')],
    ['failed with an invalid source id', { ...failedOutcome('x'), sourceId: 'not a valid/id' }],
  ])('accepts a %s outcome', (_, outcome) => {
    expect(check(TaskOutcomeSchema, outcome)).toEqual({ ok: true, value: outcome });
  });

  it.each([
    [
      { ...okOutcome('a'), rawKeys: [] },
      'rawKeys: Too small: expected array to have >=1 items, got []',
    ],
    [{ ...okOutcome('a'), attempts: 0 }, 'attempts: Too small: expected number to be >0, got 0'],
    [
      { ...failedOutcome('a'), reason: '' },
      'reason: Too small: expected string to have >=1 characters, got ""',
    ],
    [
      { ...unchangedOutcome('a'), finishedAt: 'later' },
      'finishedAt: Invalid ISO datetime, got "later"',
    ],
  ])('rejects %j, naming the field', (outcome, issue) => {
    expect(check(TaskOutcomeSchema, outcome)).toEqual({ ok: false, issues: [issue] });
  });

  it('rejects an unknown status', () => {
    // Act
    const result = check(TaskOutcomeSchema, { ...failedOutcome('a'), status: 'skipped' });

    // Assess
    expect(result).toEqual({
      ok: false,
      issues: [
        "status: Invalid discriminator value. Expected 'ok' | 'unchanged' | 'failed', got \"skipped\"",
      ],
    });
  });
});

describe('BatchResultSchema and BatchFailureSchema', () => {
  it('accepts a batch result and defaults continued to none', () => {
    // Prepare
    const { continued: _, ...result } = aBatchResult([okOutcome('a'), failedOutcome('b')]);

    // Act
    const parsed = BatchResultSchema.parse(result);

    // Assess
    expect(parsed.continued).toEqual([]);
    expect(parsed.outcomes).toHaveLength(2);
  });

  it('names the outcome index of a bad outcome', () => {
    // Prepare
    const result = aBatchResult([okOutcome('a'), { ...okOutcome('b'), bytes: -1 }]);

    // Act
    const checked = check(BatchResultSchema, result);

    // Assess
    expect(checked).toEqual({
      ok: false,
      issues: ['outcomes[1].bytes: Too small: expected number to be >=0, got -1'],
    });
  });

  it('accepts a failure record with the payload to replay', () => {
    expect(BatchFailureSchema.parse(aBatchFailure(['a', 'b'])).payload).toEqual({ version: 1 });
  });

  it('rejects an unknown failure kind', () => {
    // Act
    const checked = check(BatchFailureSchema, aBatchFailure([], { kind: 'oops' as never }));

    // Assess
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.issues[0]).toMatch(/^kind: .*got "oops"$/);
  });
});

describe('parsed object outcome (parsed object metadata) and QuarantineReportSchema', () => {
  it('round-trips through S3 metadata as one ASCII value', () => {
    // Prepare
    const outcome = aParsedObjectOutcome(rawKeyOf('a'), {
      pages: 3,
      parsed: 2,
      quarantined: 1,
      quarantinedPages: ['caf\u00e9-p0000'],
    });

    // Act
    const metadata = toParsedObjectMetadata(outcome);

    // Assess
    expect(Object.keys(metadata)).toEqual(['fanout-outcome']);
    expect(metadata['fanout-outcome']).toMatch(/^[\x20-\x7e]+$/);
    expect(fromParsedObjectMetadata(metadata)).toEqual(outcome);
  });

  it('cuts the quarantined page names short rather than exceed what S3 metadata holds', () => {
    // Prepare
    const names = Array.from({ length: 200 }, (_, i) => `source-number-${i}-p0000`);
    const outcome = aParsedObjectOutcome(rawKeyOf('a'), {
      pages: 200,
      parsed: 0,
      quarantined: 200,
      quarantinedPages: names,
    });

    // Act
    const metadata = toParsedObjectMetadata(outcome);
    const back = fromParsedObjectMetadata(metadata);

    // Assess
    expect(metadata['fanout-outcome']?.length).toBeLessThanOrEqual(1_600);
    expect(back?.quarantined).toBe(200);
    expect(back?.quarantinedPages.length).toBeGreaterThan(0);
    expect(back?.quarantinedPages.length).toBeLessThan(200);
    expect(names.slice(0, back?.quarantinedPages.length)).toEqual(back?.quarantinedPages);
  });

  it('keeps the windows-1252 page names, and cuts them before the quarantined ones', () => {
    // Prepare
    const decoded = Array.from({ length: 100 }, (_, i) => `latin-source-${i}-p0000`);
    const quarantined = Array.from({ length: 20 }, (_, i) => `bad-${i}-p0000`);
    const small = aParsedObjectOutcome(rawKeyOf('a'), { windows1252Pages: ['latin-p0000'] });
    const large = aParsedObjectOutcome(rawKeyOf('a'), {
      pages: 120,
      parsed: 100,
      quarantined: 20,
      quarantinedPages: quarantined,
      windows1252Pages: decoded,
    });

    // Act
    const back = fromParsedObjectMetadata(toParsedObjectMetadata(large));

    // Assess
    expect(fromParsedObjectMetadata(toParsedObjectMetadata(small))).toEqual(small);
    expect(
      toParsedObjectMetadata(aParsedObjectOutcome(rawKeyOf('a')))['fanout-outcome'],
    ).not.toContain('windows1252Pages');
    expect(back?.quarantinedPages).toEqual(quarantined);
    expect(back?.windows1252Pages?.length).toBeGreaterThan(0);
    expect(back?.windows1252Pages?.length).toBeLessThan(100);
  });

  it('reads no outcome from metadata without one, or with a bad one', () => {
    expect(fromParsedObjectMetadata(undefined)).toBeUndefined();
    expect(fromParsedObjectMetadata({ 'run-id': RUN_ID })).toBeUndefined();
    expect(fromParsedObjectMetadata({ 'fanout-outcome': '{"runId":' })).toBeUndefined();
    expect(fromParsedObjectMetadata({ 'fanout-outcome': '{"runId":"r"}' })).toBeUndefined();
  });

  it('requires whole non-negative page counts', () => {
    const checked = check(ParsedObjectOutcomeSchema, {
      ...aParsedObjectOutcome(rawKeyOf('a')),
      parsed: -1,
    });
    expect(checked.ok).toBe(false);
  });

  it('accepts a quarantine report and defaults its metadata', () => {
    // Act
    const report = QuarantineReportSchema.parse({
      rawKey: rawKeyOf('a'),
      reason: 'bad CSV',
      errorName: 'CsvError',
      location: { line: 4 },
      quarantinedAt: '2026-11-25T13:11:00Z',
    });

    // Assess
    expect(report.metadata).toEqual({});
  });
});

describe('RunManifestSchema', () => {
  it('accepts a planned run with invalid sources', () => {
    // Prepare
    const manifest = aRunManifest([['a', 'b'], ['c']], {
      invalidSources: [{ index: 3, id: 'd', errors: ['sources[3].url: must be http or https'] }],
    });

    // Act
    const checked = check(RunManifestSchema, manifest);

    // Assess
    expect(checked).toEqual({ ok: true, value: manifest });
  });

  it.each([
    [{ status: 'done' }, /^status: .*got "done"$/],
    [{ trigger: 'cron' }, /^trigger: .*got "cron"$/],
    [{ sourceCount: -1 }, /^sourceCount: Too small.*got -1$/],
  ])('rejects %j', (overrides, pattern) => {
    // Act
    const checked = check(RunManifestSchema, { ...aRunManifest([['a']]), ...overrides });

    // Assess
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.issues[0]).toMatch(pattern);
  });

  it('names the batch of a bad planned batch', () => {
    // Prepare
    const manifest = aRunManifest([['a'], ['b']]);
    const batches = manifest.batches.map((batch, index) =>
      index === 1 ? { ...batch, sourceIds: [] } : batch,
    );

    // Act
    const checked = check(RunManifestSchema, { ...manifest, batches });

    // Assess
    expect(checked).toEqual({
      ok: false,
      issues: ['batches[1].sourceIds: Too small: expected array to have >=1 items, got []'],
    });
  });
});

describe('StateSnapshotSchema', () => {
  it('fills defaults for an empty snapshot', () => {
    expect(StateSnapshotSchema.parse({ version: 1 })).toEqual({
      version: 1,
      mergedRuns: [],
      sources: {},
    });
  });

  it('fills defaults per source', () => {
    // Act
    const snapshot = StateSnapshotSchema.parse({
      version: 1,
      sources: { 'weather-api': { lastRunId: RUN_ID, lastStatus: 'ok' } },
    });

    // Assess
    expect(snapshot.sources['weather-api']).toEqual({
      validators: {},
      durationsMs: [],
      lastRunId: RUN_ID,
      lastStatus: 'ok',
    });
  });

  it('accepts the optional merge bookkeeping, and validates it', () => {
    // Prepare
    const snapshot = {
      version: 1,
      pendingRuns: [RUN_ID],
      sources: { a: { lastFinishedAt: '2026-11-25T13:10:30.000Z' } },
    };

    // Act
    const valid = check(StateSnapshotSchema, snapshot);
    const invalid = check(StateSnapshotSchema, {
      ...snapshot,
      pendingRuns: ['a/b'],
      sources: { a: { lastFinishedAt: 'later' } },
    });

    // Assess
    expect(valid.ok).toBe(true);
    expect(invalid.ok).toBe(false);
    if (!invalid.ok) {
      expect(invalid.issues.map((line) => line.split(':')[0])).toEqual([
        'pendingRuns[0]',
        'sources.a.lastFinishedAt',
      ]);
    }
  });

  it('rejects a source key that is not a source id, naming it', () => {
    // Act
    const checked = check(StateSnapshotSchema, { version: 1, sources: { 'a/b': {} } });

    // Assess
    expect(checked.ok).toBe(false);
    if (!checked.ok)
      expect(checked.issues).toEqual([expect.stringMatching(/^sources\.a\/b: .*got "a\/b"$/)]);
  });

  it('rejects negative durations and unknown versions', () => {
    // Act
    const checked = check(StateSnapshotSchema, {
      version: 2,
      sources: { a: { durationsMs: [10, -5] } },
    });

    // Assess
    expect(checked).toEqual({
      ok: false,
      issues: [
        'version: Invalid input: expected 1, got 2',
        'sources.a.durationsMs[1]: Too small: expected number to be >=0, got -5',
      ],
    });
  });
});

describe('RawObjectMetadataSchema', () => {
  it('defaults format options', () => {
    // Prepare
    const { formatOptions: _, ...meta } = rawMetadata();

    // Act
    const parsed = RawObjectMetadataSchema.parse(meta);

    // Assess
    expect(parsed.formatOptions).toEqual({});
  });
});

describe('emit and cursor in what the functions write down', () => {
  it("round trip in a single raw object's metadata", () => {
    const meta = rawMetadata({
      previousRawKeys: ['raw/packs/dt=2026-11-25/20261125T130000Z-b00000-h0.pack.ndjson.gz'],
      cursor: { field: '/meta/updated', value: '"2026-11-25T13:00:00.5+01:00"' },
    });
    const stored = toS3Metadata(meta);
    expect(JSON.parse(stored.cursor ?? '')).toEqual({
      field: '/meta/updated',
      value: '"2026-11-25T13:00:00.5+01:00"',
    });
    expect(fromS3Metadata(stored)).toEqual(meta);
  });

  it('leave out, past S3 limit, the previous raw keys before the URL and the URL before the cursor', () => {
    const key = (n: number) =>
      `raw/source=weather-api/dt=2026-11-25/20261125T1${n}0000Z-p0000.json`;
    const meta = rawMetadata({
      url: `https://shop.example/${'a'.repeat(600)}`,
      cursor: { field: 'updated', value: `"${'9'.repeat(250)}"` },
      previousRawKeys: Array.from({ length: 20 }, (_, n) => key(n)),
    });
    const stored = toS3Metadata(meta);
    expect(stored.cursor).toBeDefined();
    expect(stored.url).toBeDefined();
    expect(stored['previous-raw-keys']).toBeUndefined();
    const bytes = Object.entries(stored).reduce((n, [k, v]) => n + k.length + v.length, 0);
    expect(bytes).toBeLessThanOrEqual(S3_USER_METADATA_MAX_BYTES);
    const { previousRawKeys: _left, ...rest } = meta;
    expect(fromS3Metadata(stored)).toEqual(rest);
  });

  it('names a previous-raw-keys or cursor that is not JSON', () => {
    const stored = { ...toS3Metadata(rawMetadata()), cursor: '{field' };
    expect(metadataIssues(stored)).toEqual(['metadata.cursor: not valid JSON, got "{field"']);
  });

  it("keep a parse outcome's cursors, cutting page names before them and them last", () => {
    const small = aParsedObjectOutcome(rawKeyOf('a'), { cursors: { a: '"2026-11-25"', b: '42' } });
    expect(fromParsedObjectMetadata(toParsedObjectMetadata(small))).toEqual(small);

    const names = Array.from({ length: 200 }, (_, i) => `source-number-${i}-p0000`);
    const cursors = Object.fromEntries(
      Array.from({ length: 100 }, (_, i) => [
        `api-${i}`,
        `"2026-11-25T13:00:${String(i % 60).padStart(2, '0')}Z"`,
      ]),
    );
    const large = aParsedObjectOutcome(rawKeyOf('a'), {
      pages: 200,
      quarantined: 200,
      quarantinedPages: names,
      cursors,
    });
    const metadata = toParsedObjectMetadata(large);
    const back = fromParsedObjectMetadata(metadata);
    expect((metadata['fanout-outcome'] ?? '').length + 'fanout-outcome'.length).toBeLessThanOrEqual(
      S3_USER_METADATA_MAX_BYTES,
    );
    expect(back?.quarantinedPages).toEqual([]);
    const kept = Object.keys(back?.cursors ?? {});
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(100);
    for (const id of kept) expect(back?.cursors?.[id]).toBe(cursors[id]);
  });
});

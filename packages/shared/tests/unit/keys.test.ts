import { describe, expect, it } from 'vitest';
import {
  batchFailureKey,
  batchResultKey,
  decodeS3EventKey,
  encodeS3EventKey,
  INVALID_EVENTS_PREFIX,
  invalidEventKey,
  isPackKey,
  isRawKey,
  KeyLayoutError,
  manifestKey,
  PREFIXES,
  parsedKeyForRaw,
  parsePackKey,
  parseRawKey,
  quarantineKeyForEntry,
  quarantineKeyForRaw,
  quarantineReportKeyForEntry,
  quarantineReportKeyForRaw,
  type RawKeyParts,
  rawKey,
  rawKeyForQuarantine,
  rawPackKey,
  rawRelativePath,
  redispatchKey,
  runManifestKey,
  runPrefix,
  sourceStateKey,
} from '../../src/index.js';
import { RUN_ID, SCHEDULED_AT } from '../helpers/factories.js';

const PARTS: RawKeyParts = {
  sourceId: 'weather-api',
  scheduledAt: SCHEDULED_AT,
  runId: RUN_ID,
  page: 0,
  extension: 'json',
};
const RAW = 'raw/source=weather-api/dt=2026-11-25/20261125T131000Z-p0000.json';

describe('rawKey and parseRawKey', () => {
  it('builds a Hive-partitioned key under raw/', () => {
    expect(rawKey(PARTS)).toBe(RAW);
  });

  it('is deterministic: the same source, run and page give the same key', () => {
    expect(rawKey({ ...PARTS })).toBe(rawKey({ ...PARTS }));
  });

  it('gives each page, source, run and extension its own key', () => {
    // Act
    const keys = [
      rawKey(PARTS),
      rawKey({ ...PARTS, page: 1 }),
      rawKey({ ...PARTS, sourceId: 'prices' }),
      rawKey({ ...PARTS, runId: '20261125T132000Z', scheduledAt: '2026-11-25T13:20:00Z' }),
      rawKey({ ...PARTS, extension: 'csv' }),
    ];

    // Assess
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('partitions by the UTC date of the scheduled time', () => {
    expect(rawKey({ ...PARTS, scheduledAt: '2026-11-25T23:30:00-05:00' })).toContain(
      '/dt=2026-11-26/',
    );
  });

  it.each([
    { ...PARTS },
    { ...PARTS, sourceId: 'a', page: 12_345, extension: 'xml' },
    { ...PARTS, sourceId: 'v1.2_beta-x', runId: 'manual.rerun-p0001', page: 7 },
  ])('round trips %j', (parts) => {
    // Act
    const parsed = parseRawKey(rawKey(parts));

    // Assess
    expect(parsed).toEqual({
      sourceId: parts.sourceId,
      date: '2026-11-25',
      runId: parts.runId,
      page: parts.page,
      extension: parts.extension,
    });
  });

  it.each([
    ['a slash', 'a/b'],
    ['a space', 'a b'],
    ['an equals sign', 'source=a'],
    ['a plus', 'a+b'],
    ['a percent', 'a%2F'],
    ['unicode', 'météo'],
    ['nothing', ''],
  ])('rejects a source id with %s, naming it', (_, sourceId) => {
    // Act
    const act = () => rawKey({ ...PARTS, sourceId });

    // Assess
    expect(act).toThrow(KeyLayoutError);
    expect(act).toThrow(`invalid source id: ${JSON.stringify(sourceId)}`);
  });

  it.each(['a/b', 'a b', '', '.x', 'r'.repeat(65)])('rejects the run id %j', (runId) => {
    expect(() => rawKey({ ...PARTS, runId })).toThrow(`invalid run id: ${JSON.stringify(runId)}`);
  });

  it.each([-1, 1.5, Number.NaN])('rejects the page %s', (page) => {
    expect(() => rawKey({ ...PARTS, page })).toThrow(/page must be a non-negative integer/);
  });

  it.each(['JSON', 'tar.gz', '', 'a b'])('rejects the extension %j', (extension) => {
    expect(() => rawKey({ ...PARTS, extension })).toThrow(/extension must be lowercase/);
  });

  it('throws RangeError for a scheduled time that is not a time', () => {
    expect(() => rawKey({ ...PARTS, scheduledAt: 'soon' })).toThrow(RangeError);
  });

  it.each([
    'parsed/source=a/dt=2026-11-25/r-p0000.ndjson.gz',
    'raw/source=a/dt=2026-11-25/r-p0000',
    'raw/source=a/dt=2026-11-25/r.json',
    'raw/source=a/b/dt=2026-11-25/r-p0000.json',
    'raw/source=a b/dt=2026-11-25/r-p0000.json',
    'raw/source=a/dt=25-11-2026/r-p0000.json',
    'raw/source=a/dt=2026-11-25/r-p00.json',
    'raw/source=a/dt=2026-11-25/.r-p0000.json',
    'raw/hand-uploaded file.json',
  ])('returns undefined for %j, which no collector writes', (key) => {
    expect(parseRawKey(key)).toBeUndefined();
  });
});

describe('keys derived from a raw key', () => {
  it('puts parsed output in the date partition Athena prunes by, as gzip NDJSON', () => {
    expect(parsedKeyForRaw(RAW)).toBe(
      'parsed/dt=2026-11-25/20261125T131000Z~weather-api~p0000.ndjson.gz',
    );
  });

  it('gives ids that read alike different parsed names (no id contains ~)', () => {
    const first = parsedKeyForRaw('raw/source=b-c/dt=2026-11-25/a-p0000.json');
    const second = parsedKeyForRaw('raw/source=c/dt=2026-11-25/a-b-p0000.json');
    expect(first).not.toBe(second);
  });

  it('replaces only the last extension, and keeps a key without one', () => {
    expect(parsedKeyForRaw('raw/a.b/c.tar')).toBe('parsed/a.b/c.ndjson.gz');
    expect(parsedKeyForRaw('raw/a.b/c')).toBe('parsed/a.b/c.ndjson.gz');
  });

  it('copies quarantined objects under quarantine/ with a report beside each', () => {
    // Act
    const copy = quarantineKeyForRaw(RAW);
    const report = quarantineReportKeyForRaw(RAW);

    // Assess
    expect(copy).toBe(`quarantine/${RAW.slice('raw/'.length)}`);
    expect(report).toBe(`${copy}.error.json`);
  });

  it.each([
    RAW,
    'raw/source=a/dt=2026-11-25/r-p0001.csv',
    'raw/space here/100% (1)+plus/日本.json',
    'raw/no-extension',
  ])('leads from the quarantine copy and report back to %j', (raw) => {
    // Act
    const fromCopy = rawKeyForQuarantine(quarantineKeyForRaw(raw));
    const fromReport = rawKeyForQuarantine(quarantineReportKeyForRaw(raw));

    // Assess
    expect(fromCopy).toBe(raw);
    expect(fromReport).toBe(raw);
  });

  it('keeps every derived key out of raw/, so no derived write triggers the parser', () => {
    // Act
    const derived = [
      parsedKeyForRaw(RAW),
      quarantineKeyForRaw(RAW),
      quarantineReportKeyForRaw(RAW),
    ];

    // Assess
    for (const key of derived) expect(key.startsWith(PREFIXES.raw)).toBe(false);
  });

  it.each(['parsed/x.json', 'raw/', 'rawfile.json', ''])(
    'refuses to derive from %j, which is not a raw object',
    (key) => {
      expect(() => parsedKeyForRaw(key)).toThrow(KeyLayoutError);
      expect(() => quarantineKeyForRaw(key)).toThrow(`not under raw/: ${JSON.stringify(key)}`);
    },
  );

  it('refuses to map a key outside quarantine/ back to raw/', () => {
    expect(() => rawKeyForQuarantine('parsed/x.json')).toThrow(
      'not under quarantine/: "parsed/x.json"',
    );
  });

  it('tells raw keys from the rest', () => {
    expect(isRawKey(RAW)).toBe(true);
    expect(isRawKey('raw/')).toBe(false);
    expect(isRawKey('parsed/raw/x')).toBe(false);
    expect(rawRelativePath(RAW)).toBe(RAW.slice(4));
  });
});

describe('run records and state keys', () => {
  it('lays out a run under runs/<runId>/', () => {
    expect(runPrefix(RUN_ID)).toBe(`runs/${RUN_ID}/`);
    expect(runManifestKey(RUN_ID)).toBe(`runs/${RUN_ID}/run.json`);
    expect(batchResultKey(RUN_ID, 'b00003', 2)).toBe(`runs/${RUN_ID}/results/b00003-h2.json`);
    expect(batchFailureKey(RUN_ID, 'b00003', 0)).toBe(`runs/${RUN_ID}/failures/b00003-h0.json`);
    expect(redispatchKey(RUN_ID, 'b00003', 1)).toBe(`runs/${RUN_ID}/redispatches/b00003-h1.json`);
  });

  it('gives each hop of a batch its own result key, and repeats of a hop the same one', () => {
    expect(batchResultKey(RUN_ID, 'b00001', 0)).not.toBe(batchResultKey(RUN_ID, 'b00001', 1));
    expect(batchResultKey(RUN_ID, 'b00001', 1)).toBe(batchResultKey(RUN_ID, 'b00001', 1));
  });

  it.each(['a/b', '', '../x', 'a b'])('rejects the run id %j in every run key', (runId) => {
    expect(() => runManifestKey(runId)).toThrow(KeyLayoutError);
    expect(() => batchResultKey(runId, 'b00000', 0)).toThrow(KeyLayoutError);
    expect(() => batchFailureKey(runId, 'b00000', 0)).toThrow(KeyLayoutError);
    expect(() => redispatchKey(runId, 'b00000', 0)).toThrow(KeyLayoutError);
  });

  it('records a malformed event by date and a sanitized request id', () => {
    // Act
    const key = invalidEventKey('2026-11-25T13:10:05Z', 'req/../1 2');

    // Assess
    expect(key).toBe('runs/_invalid/2026-11-25/req_.._1_2.json');
    expect(key.startsWith(INVALID_EVENTS_PREFIX)).toBe(true);
  });

  it('keeps the invalid-event prefix from being a valid run id', () => {
    expect(() => runPrefix('_invalid')).toThrow(KeyLayoutError);
  });

  it('has one manifest and one state snapshot', () => {
    expect(manifestKey()).toBe('manifest/sources.json');
    expect(sourceStateKey()).toBe('state/sources.json');
  });
});

describe('S3 event key encoding', () => {
  it("matches AWS's documented example: 'red flower.jpg' arrives as 'red+flower.jpg'", () => {
    expect(encodeS3EventKey('red flower.jpg')).toBe('red+flower.jpg');
    expect(decodeS3EventKey('red+flower.jpg')).toBe('red flower.jpg');
  });

  it.each([
    ['a literal plus', 'a+b.json', 'a%2Bb.json'],
    ['a percent sign', '100%.json', '100%25.json'],
    ['slashes, kept as is', 'raw/source=a/x.json', 'raw/source%3Da/x.json'],
    ['parentheses', 'file (1).json', 'file+%281%29.json'],
    ['unicode as UTF-8 bytes', 'é.json', '%C3%A9.json'],
    ['a character outside the BMP', '🚀', '%F0%9F%9A%80'],
  ])('encodes %s', (_, key, encoded) => {
    expect(encodeS3EventKey(key)).toBe(encoded);
    expect(decodeS3EventKey(encoded)).toBe(key);
  });

  it.each([
    'plain.json',
    'with space.json',
    'a+b c%d',
    '%2B literal',
    'raw/source=a/dt=2026-11-25/x.json',
    "it's (really) ~fine~ * ! @ # $ & ; , ? [ ]",
    '東京/Zürich/Ελλάδα/🚀 rocket.json',
    '  leading and trailing  ',
  ])('round trips %j', (key) => {
    expect(decodeS3EventKey(encodeS3EventKey(key))).toBe(key);
  });

  it('decodes once: an encoded percent sequence in the key stays in the key', () => {
    // A key that literally contains "%20" arrives as "%2520"; decoding twice would
    // turn it into a space and point GetObject at another object.
    expect(decodeS3EventKey('a%2520b')).toBe('a%20b');
  });

  it.each(['%', '%E0%A4%A', '%ZZ', 'bad%'])('rejects the malformed encoding %j', (encoded) => {
    // Act
    const act = () => decodeS3EventKey(encoded);

    // Assess
    expect(act).toThrow(KeyLayoutError);
    expect(act).toThrow(`S3 event key is not valid URL encoding: ${JSON.stringify(encoded)}`);
  });
});

describe('pack keys', () => {
  const PACK = rawPackKey({
    runId: RUN_ID,
    scheduledAt: '2026-11-25T23:59:59.999-02:00',
    batchId: 'b00003',
    hop: 2,
  });

  it("lays out a hop's pack under raw/packs/ by the UTC date of the schedule", () => {
    expect(PACK).toBe(`raw/packs/dt=2026-11-26/${RUN_ID}-b00003-h2.pack.ndjson.gz`);
    expect(isRawKey(PACK)).toBe(true);
    expect(parseRawKey(PACK)).toBeUndefined();
  });

  it('reads the parts back, with run ids that contain dashes', () => {
    expect(parsePackKey(PACK)).toEqual({
      date: '2026-11-26',
      runId: RUN_ID,
      batchId: 'b00003',
      hop: 2,
    });
    const manual = rawPackKey({
      runId: 'manual-b00001-h1',
      scheduledAt: '2026-11-25T10:00:00Z',
      batchId: 'b00000',
      hop: 0,
    });
    expect(parsePackKey(manual)).toMatchObject({ runId: 'manual-b00001-h1', batchId: 'b00000' });
    expect(isPackKey(RAW)).toBe(false);
  });

  it('derives the parsed key and entry quarantine keys, and maps an entry back to its pack', () => {
    expect(parsedKeyForRaw(PACK)).toBe(`parsed/dt=2026-11-26/${RUN_ID}~b00003-h2.ndjson.gz`);
    const entry = quarantineKeyForEntry(PACK, 'weather-api', 1);
    expect(entry).toBe(
      `quarantine/packs/dt=2026-11-26/${RUN_ID}-b00003-h2.pack.ndjson.gz/weather-api-p0001.entry.json`,
    );
    expect(quarantineReportKeyForEntry(PACK, 'weather-api', 1)).toBe(`${entry}.error.json`);
    expect(rawKeyForQuarantine(entry)).toBe(PACK);
    expect(rawKeyForQuarantine(`${entry}.error.json`)).toBe(PACK);
    expect(rawKeyForQuarantine(quarantineReportKeyForRaw(PACK))).toBe(PACK);
  });

  it('refuses bad parts', () => {
    const parts = { runId: RUN_ID, scheduledAt: '2026-11-25T10:00:00Z', batchId: 'b00001', hop: 0 };
    expect(() => rawPackKey({ ...parts, batchId: 'x1' })).toThrow(KeyLayoutError);
    expect(() => rawPackKey({ ...parts, hop: -1 })).toThrow(KeyLayoutError);
    expect(() => rawPackKey({ ...parts, runId: 'a/b' })).toThrow(KeyLayoutError);
    expect(() => quarantineKeyForEntry(RAW, 'a', 0)).toThrow(KeyLayoutError);
  });
});

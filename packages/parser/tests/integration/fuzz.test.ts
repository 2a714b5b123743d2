import { gunzipSync } from 'node:zlib';
import { parsedKeyForRaw, quarantineKeyForRaw, quarantineReportKeyForEntry } from '@fanout/shared';
import { fakeContext, startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleS3Event, MAX_JSON_DEPTH } from '../../src/index.js';
import { entryLine, putPack, type TestEntry } from '../helpers/packs.js';
import { depsFor, s3Event } from '../helpers/s3.js';
import { hashOfLine } from '../helpers/streams.js';

/**
 * Thousands of pack entries, half of them mutated at random (bytes flipped, cut, inserted,
 * nested deep, the wrong format, a key the records lack): every entry left alone must be
 * parsed, every mutated one parsed or quarantined alone with a reason, and no invocation may
 * fail. For JSON documents a mutation JSON.parse accepts must parse to the same values.
 */
const PACKS = 12;
const ENTRIES_PER_PACK = 250;

/** mulberry32: a seeded generator, so a failure can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env.FANOUT_FUZZ_SEED ?? 20261206);
const random = seeded(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const int = (max: number) => Math.floor(random() * max);

function jsonDocument(): string {
  const items = Array.from({ length: 1 + int(6) }, (_, i) => ({
    id: i,
    big: 2 ** 60 + i * 1024,
    name: pick(['café', 'a "quoted" one', 'tab\there', '😀', '', '__proto__']),
    tags: [pick(['x', 'y']), int(100)],
    nested: { deep: [{ level: 3 }] },
  }));
  return pick([
    JSON.stringify(items),
    JSON.stringify({ items }, null, 2),
    JSON.stringify(items[0]),
  ]);
}

const GENERATORS: Record<string, () => string> = {
  json: jsonDocument,
  ndjson: () =>
    Array.from({ length: 1 + int(5) }, (_, i) =>
      JSON.stringify({ i, s: `v${i}`, n: [i, -0.5] }),
    ).join(pick(['\n', '\r\n'])),
  csv: () =>
    `id,name,note\n${Array.from({ length: 1 + int(5) }, (_, i) => `${i},n${i},"a, ""b"""`).join('\n')}\n`,
  rss: () =>
    `<?xml version="1.0"?><rss version="2.0"><channel>${Array.from(
      { length: 1 + int(3) },
      (_, i) => `<item><guid>g${i}</guid><title>T &amp; ${i}</title></item>`,
    ).join('')}</channel></rss>`,
  'key-value': () => 'a=1\nb: two\n\nc=3\n',
};

const NASTY = [
  '\u0000',
  '\r',
  '\n',
  '"',
  '\\',
  '[',
  '{',
  '}',
  ']',
  ',',
  ':',
  '\u00a0',
  '\uffff',
  'é',
];

/** One random mutation of `body`, as bytes (some make invalid UTF-8). */
function mutate(body: string): Buffer {
  const bytes = Buffer.from(body, 'utf8');
  const at = int(bytes.length + 1);
  switch (int(8)) {
    case 0: {
      const copy = Buffer.from(bytes);
      if (copy.length > 0) copy[Math.min(at, copy.length - 1)] = int(256);
      return copy;
    }
    case 1:
      return bytes.subarray(0, at);
    case 2:
      return Buffer.concat([
        bytes.subarray(0, at),
        bytes.subarray(Math.min(bytes.length, at + 1 + int(8))),
      ]);
    case 3:
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(pick(NASTY)), bytes.subarray(at)]);
    case 4: {
      const depth = pick([10, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH + 1, 5000, 100_000]);
      return Buffer.from(
        `[${'['.repeat(depth)}${']'.repeat(depth)},${body.startsWith('[') ? body.slice(1) : `${body}]`}`,
      );
    }
    case 5:
      return Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff, 0xc3]), bytes.subarray(at)]);
    case 6:
      return Buffer.from(body.replace(/\d+/, '1e400'));
    default:
      return Buffer.concat([bytes, bytes.subarray(0, at)]);
  }
}

/** Nesting depth of JSON text (strings skipped); what the parser limits. */
function depthOf(text: string): number {
  let depth = 0;
  let most = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i += 1;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') most = Math.max(most, ++depth);
    else if (c === ']' || c === '}') depth -= 1;
  }
  return most;
}

interface Case {
  readonly entry: TestEntry;
  readonly mutated: boolean;
  /** JSON.parse's values of the records, when a valid JSON document must parse to them. */
  readonly expected?: readonly unknown[];
  /** The document nests deeper than the limit: quarantined with a depth reason. */
  readonly tooDeep?: boolean;
}

function makeCase(pack: number, index: number): Case {
  const format = pick(Object.keys(GENERATORS));
  const body = (GENERATORS[format] as () => string)();
  const mutated = random() < 0.5;
  const sourceId = `p${pack}-e${index}`;
  const bytes = mutated ? mutate(body) : Buffer.from(body);
  const declaresKey = mutated && random() < 0.1;
  const wrongFormat = mutated && random() < 0.1;
  const entry: TestEntry = {
    sourceId,
    format: wrongFormat ? pick([...Object.keys(GENERATORS), 'no-such-format']) : format,
    formatOptions: format === 'json' && body.startsWith('{"items"') ? { recordsPath: 'items' } : {},
    body: bytes,
    ...(declaresKey ? { key: [pick(['id', '/nested/deep/0/level', 'missing'])] } : {}),
  };
  if (entry.format !== 'json' || declaresKey) return { entry, mutated };
  const text = bytes.toString('utf8');
  let value: unknown;
  try {
    if (!Buffer.from(text, 'utf8').equals(bytes)) throw new Error('not UTF-8');
    value = JSON.parse(text);
  } catch {
    return { entry, mutated };
  }
  if (depthOf(text) > MAX_JSON_DEPTH) return { entry, mutated, tooDeep: true };
  const found = entry.formatOptions?.recordsPath ? (value as { items?: unknown }).items : value;
  if (found === undefined) return { entry, mutated };
  return { entry, mutated, expected: Array.isArray(found) ? found : [found] };
}

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3.stop();
});

describe(`fuzz: ${PACKS * ENTRIES_PER_PACK} entries in ${PACKS} packs (seed ${SEED})`, () => {
  it('parses every good entry, quarantines each bad one alone with a reason, never fails', async () => {
    const tally = { good: 0, mutatedParsed: 0, quarantined: 0, checkedValues: 0 };
    for (let pack = 0; pack < PACKS; pack += 1) {
      // Prepare
      const cases = Array.from({ length: ENTRIES_PER_PACK }, (_, i) => makeCase(pack, i));
      const { key } = await putPack(
        s3,
        cases.map((c) => entryLine(c.entry)),
      );
      const { deps } = depsFor(s3);

      // Act
      const summary = await handleS3Event(s3Event(s3.bucket, key), fakeContext(), deps);

      // Assess: the invocation did not throw (that would be a retry), the pack was parsed.
      const [result] = summary.results;
      expect(result?.status, `seed ${SEED}, pack ${pack}`).toBe('parsed');
      const reported = new Set(
        result?.status === 'parsed' ? result.quarantinedEntries.map((q) => q.reportKey) : [],
      );
      const stored = new Set(await s3.listKeys(quarantineKeyForRaw(key)));
      const lines = gunzipSync(await s3.getBytes(parsedKeyForRaw(key)))
        .toString('utf8')
        .split('\n')
        .slice(0, -1);
      const bySource = new Map<string, string[]>();
      for (const line of lines) {
        expect(line).not.toMatch(/\r/);
        const parsed = JSON.parse(line) as { source: string; hash: string };
        expect(parsed.hash).toBe(hashOfLine(line));
        bySource.set(parsed.source, [...(bySource.get(parsed.source) ?? []), line]);
      }
      for (const c of cases) {
        const { sourceId } = c.entry;
        const reportKey = quarantineReportKeyForEntry(key, sourceId, 0);
        const quarantined = reported.has(reportKey);
        const parsed = bySource.has(sourceId) || !quarantined;
        const label = `seed ${SEED}, pack ${pack}, ${sourceId} (${c.entry.format}, mutated ${c.mutated})`;
        expect(stored.has(reportKey), label).toBe(quarantined);
        if (!c.mutated) {
          expect(quarantined, label).toBe(false);
          expect(bySource.get(sourceId)?.length ?? 0, label).toBeGreaterThan(0);
          tally.good += 1;
        }
        if (c.tooDeep) {
          expect(quarantined, label).toBe(true);
        }
        if (quarantined) {
          expect(bySource.has(sourceId), label).toBe(false);
          const report = JSON.parse((await s3.getBytes(reportKey)).toString('utf8')) as {
            reason: string;
            sourceId: string;
          };
          expect(report.sourceId, label).toBe(sourceId);
          expect(report.reason.length, label).toBeGreaterThan(10);
          if (c.tooDeep) expect(report.reason, label).toContain(`deeper than ${MAX_JSON_DEPTH}`);
          tally.quarantined += 1;
        } else if (c.mutated && parsed) {
          tally.mutatedParsed += 1;
        }
        if (c.expected !== undefined) {
          // A document JSON.parse reads is parsed, to the values JSON.parse gives.
          expect(quarantined, label).toBe(false);
          const records = (bySource.get(sourceId) ?? []).map(
            (line) => (JSON.parse(line) as { record: unknown }).record,
          );
          expect(records, label).toEqual(c.expected);
          tally.checkedValues += 1;
        }
      }
    }
    console.log(`fuzz tally (seed ${SEED}): ${JSON.stringify(tally)}`);
    // The mix really exercised both sides.
    expect(tally.good).toBeGreaterThan(PACKS * ENTRIES_PER_PACK * 0.4);
    expect(tally.quarantined).toBeGreaterThan(PACKS * ENTRIES_PER_PACK * 0.1);
    expect(tally.mutatedParsed).toBeGreaterThan(0);
    expect(tally.checkedValues).toBeGreaterThan(100);
  }, 600_000);
});

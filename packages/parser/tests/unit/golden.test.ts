import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { FormatOptions } from '@fanout/shared';
import { describe, expect, it } from 'vitest';
import { bytesSource, ParserError, parseStream } from '../../src/index.js';
import { memorySink, TEST_LIMITS } from '../helpers/streams.js';

/**
 * Pins the parser's output byte for byte: for every case the decompressed NDJSON (or, for bad
 * input, the error's name, message and location) must equal the golden file generated from
 * the parser before any speed work. Set FANOUT_UPDATE_GOLDEN=1 to write the files again, only
 * for a change of behaviour that is meant.
 */
const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'golden');
const FIXTURES_DIR = join(GOLDEN_DIR, '..');
const UPDATE = process.env.FANOUT_UPDATE_GOLDEN === '1';

const ENVELOPE = {
  sourceId: 'golden-src',
  runId: '20261129T095000Z',
  page: 2,
  fetchedAt: '2026-11-29T09:50:01.000Z',
};

interface GoldenCase {
  readonly name: string;
  readonly format: string;
  readonly input: string | Buffer;
  readonly formatOptions?: FormatOptions;
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly limits?: { maxRawBytes: number; maxRecordBytes: number };
}

/** About `count` generated records like the benchmark's: numbers, text, booleans, arrays. */
function generated(format: 'ndjson' | 'csv', count: number): string {
  let text = format === 'csv' ? 'id,name,price,flag,note\n' : '';
  for (let n = 0; n < count; n += 1) {
    const note = `note ${n % 997} of the "golden" input, é ${n % 3 === 0 ? '\u{1F600}' : ''}`;
    text +=
      format === 'csv'
        ? `${n},item-${n.toString(36)},${((n * 7919) % 100_000) / 100},${n % 3 === 0},"${note.replaceAll('"', '""')}"\n`
        : `${JSON.stringify({ id: n, name: `item-${n.toString(36)}`, price: ((n * 7919) % 100_000) / 100, flag: n % 3 === 0, note, tags: ['a', 'b'] })}\n`;
  }
  return text;
}

const fixture = (name: string) => readFileSync(join(FIXTURES_DIR, name));

const CASES: readonly GoldenCase[] = [
  {
    name: 'ndjson-mixed',
    format: 'ndjson',
    input:
      '\uFEFF{"a":1,"b":[1,2,{"c":null}]}\r\n\n   \n  {"id":12345678901234567890, "x" : 1.50e3 }  \n"just a string"\n42\ntrue\nnull\n[1,"two"]\n{"u":"\\u00e9\\ud83d\\ude00 é 😀","esc":"a\\"b\\\\c\\n"}\n\t{"tabbed":1}\t\r\n{"last":"no newline"}',
  },
  { name: 'ndjson-generated', format: 'ndjson', input: generated('ndjson', 1_000) },
  { name: 'ndjson-bad-line', format: 'ndjson', input: '{"a":1}\n\n{"b":2,}\n{"c":3}\n' },
  { name: 'ndjson-bad-tail', format: 'ndjson', input: '{"a":1}\r\n{"b":' },
  { name: 'ndjson-bad-nan', format: 'ndjson', input: '{"a":1}\nNaN\n' },
  { name: 'ndjson-bad-two-values', format: 'ndjson', input: '{"a":1} {"b":2}\n' },
  {
    name: 'ndjson-too-large',
    format: 'ndjson',
    input: `{"a":1}\n{"b":"${'x'.repeat(200)}"}\n`,
    limits: { maxRawBytes: TEST_LIMITS.maxRawBytes, maxRecordBytes: 100 },
  },
  {
    // No charset anywhere and not UTF-8: read as windows-1252, as browsers and feedparser do.
    name: 'ndjson-invalid-utf8-windows-1252',
    format: 'ndjson',
    input: Buffer.concat([
      Buffer.from('{"a":1}\n{"b":"'),
      Buffer.from('caf\xe9 \x80 \x93', 'latin1'),
      Buffer.from('"}\n'),
    ]),
  },
  {
    name: 'ndjson-invalid-utf8-strict',
    format: 'ndjson',
    input: Buffer.concat([
      Buffer.from('{"a":1}\n{"b":"'),
      Buffer.from([0xe9]),
      Buffer.from('"}\n'),
    ]),
    formatOptions: { strict: true },
  },
  {
    // UTF-8 text before the bad byte: neither reading is right for the whole body.
    name: 'ndjson-mixed-encodings',
    format: 'ndjson',
    input: Buffer.concat([
      Buffer.from('{"a":"ü"}\n{"b":"'),
      Buffer.from([0xe9]),
      Buffer.from('"}\n'),
    ]),
  },
  {
    name: 'ndjson-invalid-utf8-replaced',
    format: 'ndjson',
    input: Buffer.concat([
      Buffer.from('{"a":1}\n{"b":"'),
      Buffer.from([0xe9]),
      Buffer.from('"}\n'),
    ]),
    formatOptions: { invalidBytes: 'replace' },
  },
  {
    name: 'ndjson-utf16le-bom',
    format: 'ndjson',
    input: Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from('{"é":"ü"}\n{"n":2}\n', 'utf16le'),
    ]),
  },
  {
    name: 'ndjson-gzip-encoded',
    format: 'ndjson',
    input: gzipSync('{"a":1}\n{"b":2}\n'),
    contentEncoding: 'gzip',
  },
  {
    name: 'csv-header',
    format: 'csv',
    input:
      '\uFEFFid,name,note\r\n1,plain,"quoted, with comma"\r\n\r\n2,"esc ""quote""","multi\r\nline"\r\n3,é,"😀"\r\n4,,""\r\n5,trailing,"no newline"',
  },
  { name: 'csv-generated', format: 'csv', input: generated('csv', 1_000) },
  {
    name: 'csv-no-header-semicolon',
    format: 'csv',
    input: 'a;b;c\n1;"x;y";3\n\n"line\nbreak";;\n',
    formatOptions: { header: false, delimiter: ';' },
  },
  {
    name: 'csv-relax-quotes',
    format: 'csv',
    input: 'item,size\nfloppy,5" disk\n"quoted"x,y\n',
  },
  {
    name: 'csv-relax-column-count',
    format: 'csv',
    input: 'a,b\n1,2,3\n4\n5,6\n',
    formatOptions: { relaxColumnCount: true },
  },
  {
    name: 'csv-numbers-stay-strings',
    format: 'csv',
    input: 'id,big,float,bool,empty\n1,12345678901234567890,1.50,true,\n',
  },
  {
    name: 'csv-latin1',
    format: 'csv',
    input: Buffer.from('name,city\r\nJos\xe9,S\xe3o Paulo\r\n', 'latin1'),
    contentType: 'text/csv; charset=iso-8859-1',
  },
  { name: 'csv-bad-columns', format: 'csv', input: 'a,b\n1,2\n\n3,4,5\n6,7\n' },
  { name: 'csv-bad-unclosed-quote', format: 'csv', input: 'a,b\n1,2\n3,"open\r\n4,5\n' },
  {
    name: 'csv-bad-strict-opening-quote',
    format: 'csv',
    input: 'a,b\n1,2\n3,5" disk\n',
    formatOptions: { strict: true },
  },
  {
    name: 'csv-bad-strict-closing-quote',
    format: 'csv',
    input: 'a,b\r\n1,"x"y\r\n',
    formatOptions: { strict: true },
  },
  {
    name: 'csv-too-large',
    format: 'csv',
    input: `a,b\n1,2\n3,"${'x'.repeat(200)}"\n`,
    limits: { maxRawBytes: TEST_LIMITS.maxRawBytes, maxRecordBytes: 100 },
  },
  {
    name: 'json-root-array',
    format: 'json',
    input: '[{"a":1,"big":12345678901234567890},{"b":[true,null,"é"]},3,"s"]',
  },
  {
    name: 'json-records-path',
    format: 'json',
    input: '{"meta":{"n":2},"data":{"items":[{"id":1},{"id":2,"x":{"y":1.5}}]},"tail":[9]}',
    formatOptions: { recordsPath: 'data.items' },
  },
  { name: 'json-root-object', format: 'json', input: '{"only":"one","n":1e2}' },
  { name: 'json-bad', format: 'json', input: '[{"a":1},{"b":}]' },
  { name: 'rss', format: 'rss', input: fixture('feed.rss.xml') },
  { name: 'atom', format: 'atom', input: fixture('feed.atom.xml') },
  {
    name: 'rss-entities-leading-space',
    format: 'rss',
    input:
      '  <?xml version="1.0"?><rss><channel><item><title>caf&eacute; &amp; &nbsp;x</title><description><![CDATA[<b>bold</b>]]></description></item></channel></rss>',
  },
  {
    name: 'rss-bad-tag',
    format: 'rss',
    input:
      '<rss><channel>\n<item><title>a</title></item>\n<item><title>b</titel></item>\n</channel></rss>',
  },
  {
    // A real publisher's feed: no XML declaration, no charset, Latin-1 bytes.
    name: 'rss-latin1-undeclared',
    format: 'rss',
    input: Buffer.from(
      // windows-1252 bytes: 0x96 is an en dash, 0x80 the euro sign.
      '<rss version="2.0"><channel><title>Nouvelles</title>\n<item><title>Caf\xe9 \xe0 la cr\xe8me \x96 \xab oui \xbb, 3 \x80</title><link>https://example.test/a</link></item>\n</channel></rss>\n',
      'latin1',
    ),
  },
  {
    name: 'key-value',
    format: 'key-value',
    input: '# comment\nid=1\nname: first\n\nid=2\nname = second \n\n\n',
  },
];

interface Outcome {
  readonly text: string;
  readonly records?: number;
}

async function parseCase(golden: GoldenCase, chunkBytes: number): Promise<Outcome> {
  const sink = memorySink();
  try {
    const stats = await parseStream(bytesSource(golden.input, chunkBytes), sink.stream, {
      format: golden.format,
      envelope: ENVELOPE,
      limits: golden.limits ?? TEST_LIMITS,
      gzipLevel: 1,
      ...(golden.formatOptions ? { formatOptions: golden.formatOptions } : {}),
      ...(golden.contentType ? { contentType: golden.contentType } : {}),
      ...(golden.contentEncoding ? { contentEncoding: golden.contentEncoding } : {}),
    });
    return { text: gunzipSync(sink.bytes()).toString('utf8'), records: stats.records };
  } catch (error) {
    if (!(error instanceof ParserError)) throw error;
    const { name, message } = error;
    const location = (error as { location?: unknown }).location ?? null;
    return { text: `${JSON.stringify({ name, message, location }, null, 2)}\n` };
  }
}

const goldenFile = (golden: GoldenCase, outcome: Outcome) =>
  join(GOLDEN_DIR, `${golden.name}.${outcome.records === undefined ? 'error.json' : 'ndjson'}`);

describe('parser output against the golden files', () => {
  it.each(CASES)('$name', async (golden) => {
    // Act: whole 64 KiB reads, and 7-byte reads that split records and characters.
    const whole = await parseCase(golden, 64 * 1024);
    const split = await parseCase(golden, 7);

    // Assess
    expect(split.text).toBe(whole.text);
    const file = goldenFile(golden, whole);
    if (UPDATE) {
      mkdirSync(GOLDEN_DIR, { recursive: true });
      writeFileSync(file, whole.text);
    }
    expect(existsSync(file), `${file} is missing (FANOUT_UPDATE_GOLDEN=1 writes it)`).toBe(true);
    expect(whole.text).toBe(readFileSync(file, 'utf8'));
    if (whole.records !== undefined) {
      expect(whole.records).toBe(whole.text.split('\n').length - 1);
    }
  });
});

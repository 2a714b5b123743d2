import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  type PackEntryFields,
  PackFormatError,
  type PackHeader,
  type PackItem,
  packEntryBody,
  packEntryLine,
  packHeaderLine,
  parsePackHeader,
  readPack,
  readPackHeader,
} from '../../src/index.js';
import { aBatchResult, okOutcome, RUN_ID, SCHEDULED_AT, SHA256 } from '../helpers/factories.js';

const MAX_LINE = 1024 * 1024;

function header(entries: number): PackHeader {
  return {
    kind: 'fanout.pack',
    version: 1,
    runId: RUN_ID,
    batchId: 'b00000',
    hop: 0,
    scheduledAt: SCHEDULED_AT,
    entries,
    result: aBatchResult([okOutcome('a'), okOutcome('b')]),
  };
}

function fields(sourceId: string, page = 0): PackEntryFields {
  return {
    sourceId,
    page,
    url: 'https://example.com/feed?token=REDACTED',
    httpStatus: 200,
    contentType: 'text/csv; charset=windows-1252',
    fetchedAt: '2026-11-25T13:10:03Z',
    sha256: SHA256,
    format: 'csv',
    formatOptions: {},
  };
}

/** The pack as the collector stores it: the header member, then the entries member. */
function packBytes(head: string, entries: string): Buffer {
  return Buffer.concat([gzipSync(head), gzipSync(entries)]);
}

async function readAll(bytes: Buffer): Promise<PackItem[]> {
  const items: PackItem[] = [];
  for await (const item of readPack(Readable.from([bytes]), { maxLineBytes: MAX_LINE })) {
    items.push(item);
  }
  return items;
}

describe('pack format', () => {
  it('round-trips text and binary bodies exactly, header first', async () => {
    // Prepare
    const latin1 = Buffer.from('caf\xe9;\x93quoted\x94\r\n', 'latin1');
    const utf8 = Buffer.from('{"name":"Zoë"}\n', 'utf8');
    const bytes = packBytes(
      packHeaderLine(header(2)),
      packEntryLine(fields('a'), utf8) + packEntryLine(fields('b', 3), latin1),
    );

    // Act
    const items = await readAll(bytes);

    // Assess
    expect(items.map((item) => item.kind)).toEqual(['header', 'entry', 'entry']);
    const [first, second] = items
      .slice(1)
      .map((item) => (item.kind === 'entry' ? item : undefined));
    expect(first?.entry?.bodyEncoding).toBe('utf8');
    expect(second?.entry?.bodyEncoding).toBe('base64');
    expect(first?.entry && packEntryBody(first.entry).equals(utf8)).toBe(true);
    expect(second?.entry && packEntryBody(second.entry).equals(latin1)).toBe(true);
    expect(second?.entry).toMatchObject({ sourceId: 'b', page: 3, bytes: latin1.length });
    expect(second?.line).toBe(3);
  });

  it('is read by gzip itself: the two members are one stream of NDJSON lines', () => {
    // Prepare
    const bytes = packBytes(
      packHeaderLine(header(1)),
      packEntryLine(fields('a'), Buffer.from('x')),
    );

    // Act
    const text = execFileSync('gzip', ['-dc'], { input: bytes }).toString('utf8');

    // Assess
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ kind: 'fanout.pack', entries: 1 });
  });

  it('gives the header without reading the entries', async () => {
    // Prepare
    const bytes = packBytes(packHeaderLine(header(1)), 'not even JSON\n');

    // Act
    const read = await readPackHeader(Readable.from([bytes]), MAX_LINE);

    // Assess
    expect(read.result.outcomes.map((o) => o.sourceId)).toEqual(['a', 'b']);
  });

  it('yields a JSON line that is not a valid entry with its problem, and goes on', async () => {
    // Prepare
    const bad = `${JSON.stringify({ sourceId: 'c', page: 0 })}\n`;
    const bytes = packBytes(
      packHeaderLine(header(2)),
      bad + packEntryLine(fields('a'), Buffer.from('ok')),
    );

    // Act
    const items = await readAll(bytes);

    // Assess
    const entries = items.filter((item) => item.kind === 'entry');
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ entry: undefined, text: bad.trimEnd() });
    expect(entries[0]?.kind === 'entry' && entries[0].problem).toMatch(/entries\[0\]\.url/);
    expect(entries[1]?.kind === 'entry' && entries[1].entry?.sourceId).toBe('a');
  });

  it.each([
    ['a truncated gzip stream', (b: Buffer) => b.subarray(0, b.length - 9), /gzip|truncated/],
    ['bytes that are not gzip', () => Buffer.from('plain text\n'), /not a readable gzip stream/],
    ['no header', () => gzipSync(''), /no header/],
    [
      'fewer entries than the header says',
      () => packBytes(packHeaderLine(header(3)), packEntryLine(fields('a'), Buffer.from('x'))),
      /announces 3 entries, found 1/,
    ],
    [
      'more entries than the header says',
      () => packBytes(packHeaderLine(header(0)), packEntryLine(fields('a'), Buffer.from('x'))),
      /more entries than the header's 0 \(pack line 2\)/,
    ],
    [
      'an entry line that is not JSON',
      () => packBytes(packHeaderLine(header(1)), '{"sourceId":\n'),
      /not JSON: .* \(pack line 2\)/,
    ],
    [
      'a header of something else',
      () => gzipSync('{"kind":"other"}\n'),
      /invalid pack header: header\.kind/,
    ],
  ])('rejects %s as a whole with a reason', async (_, make, reason) => {
    // Prepare
    const bytes = make(
      packBytes(packHeaderLine(header(1)), packEntryLine(fields('a'), Buffer.from('x'))),
    );

    // Act
    const read = readAll(bytes);

    // Assess
    await expect(read).rejects.toThrow(PackFormatError);
    await expect(readAll(bytes)).rejects.toThrow(reason);
  });

  it('refuses a line longer than the limit instead of holding it', async () => {
    // Prepare
    const bytes = packBytes(
      packHeaderLine(header(1)),
      packEntryLine(fields('a'), Buffer.alloc(4096, 97)),
    );

    // Act
    const read = (async () => {
      for await (const _ of readPack(Readable.from([bytes]), { maxLineBytes: 2048 })) {
        // drain
      }
    })();

    // Assess
    await expect(read).rejects.toThrow(/line longer than 2048 bytes \(pack line 2\)/);
  });

  it('validates a header built in memory, naming the field', () => {
    expect(() => parsePackHeader({ ...header(1), hop: -1 })).toThrow(/header\.hop/);
  });
});

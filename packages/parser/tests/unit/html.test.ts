import { describe, expect, it } from 'vitest';
import {
  bytesSource,
  HTML_PAGE_MAX_BYTES,
  MalformedInputError,
  type ParseStreamOptions,
  parseStream,
  UnknownCharsetError,
} from '../../src/index.js';
import { gunzipLines, memorySink, TEST_LIMITS } from '../helpers/streams.js';

const ENVELOPE = {
  sourceId: 'shop',
  runId: '20261206T080000Z',
  page: 1,
  fetchedAt: '2026-12-06T08:00:01.000Z',
};
const OPTIONS = { items: 'li', fields: { name: 'a', url: 'a@href' } };

function options(extra: Partial<ParseStreamOptions> = {}): ParseStreamOptions {
  return {
    format: 'html',
    formatOptions: OPTIONS,
    pageUrl: 'https://shop.test/catalog/list?page=REDACTED',
    envelope: ENVELOPE,
    limits: TEST_LIMITS,
    gzipLevel: 1,
    ...extra,
  };
}

async function recordsOf(body: Buffer | string, extra: Partial<ParseStreamOptions> = {}) {
  const sink = memorySink();
  const stats = await parseStream(bytesSource(body, 7), sink.stream, options(extra));
  const lines = gunzipLines(sink.bytes()) as { record: unknown }[];
  expect(stats.records).toBe(lines.length);
  return lines.map((line) => line.record);
}

async function errorOf(body: Buffer | string, extra: Partial<ParseStreamOptions> = {}) {
  try {
    await recordsOf(body, extra);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the parse to fail');
}

describe('the html format', () => {
  it('reads one record per item, links resolved against the page URL', async () => {
    const records = await recordsOf(
      '<ul><li><a href="../p/1">One</a></li><li><a href="?page=2">Two</a></li><li>Three</li></ul>',
    );
    expect(records).toEqual([
      { name: 'One', url: 'https://shop.test/p/1' },
      { name: 'Two', url: 'https://shop.test/catalog/list?page=2' },
      { name: null, url: null },
    ]);
  });

  it('decodes by the <meta> charset when the HTTP header names none', async () => {
    const body = Buffer.concat([
      Buffer.from('<meta charset="windows-1252"><li><a href="/x">Caf', 'latin1'),
      Buffer.from([0xe9, 0x20, 0x80]),
      Buffer.from('</a></li>', 'latin1'),
    ]);
    expect(await recordsOf(body, { contentType: 'text/html' })).toEqual([
      { name: 'Café €', url: 'https://shop.test/x' },
    ]);
  });

  it('reads a legacy page that declares no charset and is not UTF-8 as windows-1252, and says so', async () => {
    // Prepare
    const body = Buffer.from('<li><a href="/x">Caf\xe9 \x80</a></li>', 'latin1');
    const sink = memorySink();

    // Act
    const stats = await parseStream(
      bytesSource(body, 7),
      sink.stream,
      options({ contentType: 'text/html' }),
    );

    // Assess
    const records = (gunzipLines(sink.bytes()) as { record: unknown }[]).map((l) => l.record);
    expect(records).toEqual([{ name: 'Café €', url: 'https://shop.test/x' }]);
    expect(stats.decodedAs).toBe('decoded as windows-1252: not UTF-8, no charset declared');
  });

  it('lets the HTTP charset win over the <meta>, as the HTML standard does', async () => {
    const body = Buffer.from('<meta charset="windows-1252"><li><a>Ã©</a></li>', 'utf8');
    // The same bytes read as UTF-8 (the header) keep "Ã©" as written.
    expect(await recordsOf(body, { contentType: 'text/html; charset=utf-8' })).toEqual([
      { name: 'Ã©', url: null },
    ]);
  });

  it('quarantines a page whose <meta> names a charset Node cannot decode', async () => {
    const error = await errorOf('<meta charset="x-no-such-charset"><li>x</li>');
    expect(error).toBeInstanceOf(UnknownCharsetError);
    expect(error.message).toBe(
      'unknown or unsupported charset "x-no-such-charset" (declared in the <meta> charset)',
    );
  });

  it('quarantines a relative link when the page URL is unknown, naming the record', async () => {
    const error = await errorOf(
      '<li><a href="https://x.test/">ok</a></li><li><a href="/p/2">rel</a></li>',
      {
        pageUrl: undefined,
      },
    );
    expect(error).toBeInstanceOf(MalformedInputError);
    expect(error.message).toBe(
      `malformed html at record 1: cannot resolve the relative URL "/p/2" in @href: the page's own URL is not known`,
    );
  });

  it('refuses a page larger than it can hold as a DOM', async () => {
    const page = Buffer.alloc(HTML_PAGE_MAX_BYTES + 1, 0x20);
    const sink = memorySink();
    const error = await parseStream(bytesSource(page, 1024 * 1024), sink.stream, options()).catch(
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(MalformedInputError);
    expect((error as Error).message).toContain(
      `passed the ${HTML_PAGE_MAX_BYTES}-byte limit of the html format`,
    );
  });
});

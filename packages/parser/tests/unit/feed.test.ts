import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MalformedInputError, RecordTooLargeError } from '../../src/index.js';
import { extract, extractError } from '../helpers/streams.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));

describe('rss', () => {
  it('turns RSS 2.0 items into plain records and ignores channel fields', async () => {
    expect(await extract('rss', fixture('feed.rss.xml'))).toEqual([
      {
        id: 'item-1',
        title: 'First & best',
        link: 'https://example.org/1',
        published: 'Tue, 24 Nov 2026 10:00:00 GMT',
        author: 'Ann Author',
        summary: '<p>Summary <b>one</b></p>',
        content: '<p>Full text</p>',
        categories: ['news', 'tech'],
        enclosure: { url: 'https://example.org/1.mp3', type: 'audio/mpeg', length: '1234' },
      },
      { title: 'Grüße, 東京', link: 'https://example.org/2' },
    ]);
  });

  it('reports broken XML with its line and the record being read', async () => {
    const text =
      '<rss><channel>\n<item><title>a</title></item>\n<item><title>b</titel></item>\n</channel></rss>';
    const error = await extractError('rss', text);
    expect(error).toBeInstanceOf(MalformedInputError);
    expect((error as MalformedInputError).location).toMatchObject({ line: 3, record: 1 });
  });

  it('reports a truncated document, an empty one and the wrong root element', async () => {
    expect((await extractError('rss', fixture('feed.rss.xml').subarray(0, 300))).message).toContain(
      'unclosed tag',
    );
    expect((await extractError('rss', '')).message).toContain('empty document');
    expect((await extractError('rss', fixture('feed.atom.xml'))).message).toContain(
      'expected a <rss> or <rdf:RDF> root element, got <feed>',
    );
  });

  it('does not expand entities declared in a DTD', async () => {
    const text =
      '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><rss><channel><item><title>&xxe;</title></item></channel></rss>';
    const error = await extractError('rss', text);
    expect(error.message).toMatch(/entity/i);
  });

  it('reads a feed with whitespace before the XML declaration, and counts it in error locations', async () => {
    // Prepare
    const prefix = '\n  \n';
    const document =
      '<?xml version="1.0"?>\n<rss><channel><item><title>T</title></item></channel></rss>';
    const broken = document.replace('</title>', '</titel>');

    // Act
    const records = await extract('rss', `${prefix}${document}`);
    const plain = await extractError('rss', broken, {}, { chunkBytes: 64 });
    const spaced = await extractError('rss', `${prefix}${broken}`, {}, { chunkBytes: 64 });

    // Assess
    expect(records).toEqual([{ title: 'T' }]);
    const before = (plain as MalformedInputError).location;
    const after = (spaced as MalformedInputError).location;
    expect(before?.line).toBe(2);
    expect(after?.line).toBe(4);
    expect(after?.byteOffset).toBe((before?.byteOffset ?? Number.NaN) + prefix.length);
  });

  it('accepts HTML 4 named entities that browsers and feed readers accept', async () => {
    const text =
      '<rss><channel><item><title>Caf&eacute;&nbsp;&copy; 2026 &mdash; &euro;5 &amp; &lt;b&gt;</title></item></channel></rss>';
    expect(await extract('rss', text)).toEqual([
      { title: 'Caf\u00e9\u00a0\u00a9 2026 \u2014 \u20ac5 & <b>' },
    ]);
  });

  it('keeps HTML inside a description as markup text', async () => {
    const text =
      '<rss><channel><item><description>Intro <p class="x">A &amp; <b>B</b><br/>C</p> end</description></item></channel></rss>';
    expect(await extract('rss', text)).toEqual([
      { summary: 'Intro <p class="x">A &amp; <b>B</b><br/>C</p> end' },
    ]);
  });

  it('rejects whitespace before the declaration and HTML entities when strict', async () => {
    const spaced = ' <?xml version="1.0"?><rss><channel/></rss>';
    expect((await extractError('rss', spaced, { strict: true })).message).toContain(
      'XML declaration must be at the start',
    );
    const entity = '<rss><channel><item><title>a&nbsp;b</title></item></channel></rss>';
    expect((await extractError('rss', entity, { strict: true })).message).toContain(
      'undefined entity',
    );
  });

  it('rejects an item over the record limit', async () => {
    const text = `<rss><channel><item><description>${'x'.repeat(500)}</description></item></channel></rss>`;
    expect(await extractError('rss', text, {}, { maxRecordBytes: 100 })).toBeInstanceOf(
      RecordTooLargeError,
    );
  });
});

describe('atom', () => {
  it('turns Atom entries into plain records', async () => {
    expect(await extract('atom', fixture('feed.atom.xml'))).toEqual([
      {
        id: 'urn:uuid:1',
        title: 'Entry one',
        link: 'https://example.org/1',
        published: '2026-11-24T09:00:00Z',
        updated: '2026-11-24T10:00:00Z',
        author: 'Bob Writer',
        summary: 'Short',
        // type="xhtml": the markup inside the <div> wrapper, kept as text.
        content: 'Hello <b>world</b>',
        categories: ['news'],
      },
      {
        id: 'urn:uuid:2',
        title: 'Entry two',
        link: 'https://example.org/2',
        updated: '2026-11-25T10:00:00Z',
      },
    ]);
  });

  it('reports broken XML', async () => {
    const error = await extractError(
      'atom',
      '<feed><entry><title>x</title></entry><entry><id>y</entry></feed>',
    );
    expect(error).toBeInstanceOf(MalformedInputError);
    expect((error as MalformedInputError).location).toMatchObject({ line: 1, record: 1 });
  });
});

import { seededRandom } from './random.js';

/**
 * The bodies the demo sources serve. Each is a pure function of the source's
 * content version, so a body (and its ETag) changes only when the version does.
 */

/** Dates inside the documents start here, so bodies do not depend on the clock. */
export const DEMO_EPOCH_MS = Date.parse('2026-01-01T00:00:00Z');
const HOUR_MS = 3_600_000;

export const API_PAGES = 3;
const API_ITEMS_PER_PAGE = 4;

function isoAt(offsetHours: number): string {
  return new Date(DEMO_EPOCH_MS + offsetHours * HOUR_MS).toISOString();
}

function rfc822At(offsetHours: number): string {
  return new Date(DEMO_EPOCH_MS + offsetHours * HOUR_MS).toUTCString();
}

export function apiPage(page: number, version: number, nextUrl: string | undefined): string {
  const items = Array.from({ length: API_ITEMS_PER_PAGE }, (_, i) => {
    const n = (page - 1) * API_ITEMS_PER_PAGE + i + 1;
    return { id: n, name: `Item ${n}`, price: Math.round(n * 137.5) / 100, revision: version };
  });
  return JSON.stringify({
    data: { items },
    page,
    pages: API_PAGES,
    ...(nextUrl ? { next: nextUrl } : {}),
  });
}

export function ordersCsv(version: number): string {
  const rows = ['id,customer,amount,currency,created_at'];
  const customers = ['Acme Ltd', '"Smith, Jane"', 'Globex', 'Initech', '"The ""Best"" Shop"'];
  for (let n = 1; n <= 20; n += 1) {
    const customer = customers[n % customers.length] ?? 'Acme Ltd';
    rows.push(`${n},${customer},${(n * 19.99 + version).toFixed(2)},EUR,${isoAt(n)}`);
  }
  return `${rows.join('\n')}\n`;
}

function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** One more item per version: the feed grows each cycle. */
export function newsRss(version: number, baseUrl: string): string {
  const count = 5 + version;
  const items: string[] = [];
  for (let n = count; n >= 1; n -= 1) {
    items.push(
      [
        '<item>',
        `<title>${escapeXml(`News ${n}: markets & more`)}</title>`,
        `<link>${baseUrl}/news/${n}</link>`,
        `<guid isPermaLink="false">news-${n}</guid>`,
        `<pubDate>${rfc822At(n)}</pubDate>`,
        `<description>${escapeXml(`Story number ${n} <b>in brief</b>`)}</description>`,
        '</item>',
      ].join(''),
    );
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<rss version="2.0"><channel>',
    '<title>Fanout demo news</title>',
    `<link>${baseUrl}/</link>`,
    '<description>Sample RSS 2.0 feed of the local demo sources</description>',
    `<lastBuildDate>${rfc822At(count)}</lastBuildDate>`,
    ...items,
    '</channel></rss>',
    '',
  ].join('\n');
}

export function releasesAtom(version: number, baseUrl: string): string {
  const count = 3 + version;
  const entries: string[] = [];
  for (let n = count; n >= 1; n -= 1) {
    entries.push(
      [
        '<entry>',
        `<title>Release 1.${n}.0</title>`,
        `<id>urn:fanout:demo:release:${n}</id>`,
        `<updated>${isoAt(n * 24)}</updated>`,
        `<link href="${baseUrl}/releases/${n}"/>`,
        `<summary>${escapeXml(`Fixes & features of 1.${n}.0`)}</summary>`,
        '</entry>',
      ].join(''),
    );
  }
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<feed xmlns="http://www.w3.org/2005/Atom">',
    '<title>Fanout demo releases</title>',
    '<id>urn:fanout:demo:releases</id>',
    `<updated>${isoAt(count * 24)}</updated>`,
    `<link href="${baseUrl}/feeds/releases.atom" rel="self"/>`,
    ...entries,
    '</feed>',
    '',
  ].join('\n');
}

/** Three more events per version. */
export function eventsNdjson(version: number): string {
  const lines: string[] = [];
  for (let n = 1; n <= 10 + 3 * version; n += 1) {
    lines.push(
      JSON.stringify({ id: `evt-${n}`, type: n % 2 ? 'click' : 'view', at: isoAt(n), value: n }),
    );
  }
  return `${lines.join('\n')}\n`;
}

export function slowReport(version: number): string {
  return JSON.stringify({
    generatedAt: isoAt(version),
    rows: Array.from({ length: 5 }, (_, i) => ({ region: `r${i + 1}`, total: (i + 1) * 1000 })),
  });
}

export function flakyStatus(version: number): string {
  return JSON.stringify({
    checks: [
      { service: 'api', ok: true, revision: version },
      { service: 'db', ok: true, revision: version },
    ],
  });
}

/** Claims to be JSON and is not: the parser must quarantine it. */
export function malformedJson(): string {
  return '{"items": [{"id": 1, "name": "complete"}, {"id": 2, "name": "cut off';
}

const WORDS = (
  'alpha amber anchor apple arrow aspen atlas autumn basin beacon berry birch blade bloom bolt ' +
  'breeze bridge brook cable canyon carbon cedar chalk cliff cloud cobalt comet copper coral ' +
  'crane crest crystal delta desert dune eagle echo ember falcon fern field flint forest frost ' +
  'garnet glacier granite harbor hazel heron horizon island ivory jade juniper lagoon lantern ' +
  'laurel lemon linen lotus maple marble meadow mesa meteor mint mist moss nectar north oak ' +
  'ocean olive onyx orbit orchid pearl pebble pepper pine planet plum prairie quartz radar ' +
  'raven reef ridge river robin saffron sage salt sand shadow silver slate sparrow spruce ' +
  'stone storm summit sun thistle thunder tide timber topaz tulip valley velvet willow wind'
).split(' ');

/**
 * A JSON listing of about `bodyBytes` bytes (exactly, when that is above its minimum),
 * made of item records with seeded words and numbers, so it compresses about as well
 * as a real API response (several times, not a thousand times as repeated padding would):
 * the cost benchmark's storage figure depends on it.
 */
export function generatedDocument(index: number, version: number, bodyBytes: number): string {
  const random = seededRandom((index * 7_919 + version * 104_729) >>> 0);
  const word = () => WORDS[Math.floor(random() * WORDS.length)] ?? 'stone';
  const base = { id: generatedSourceId(index), version, items: [] as unknown[], padding: '' };
  let size = Buffer.byteLength(JSON.stringify(base));
  for (let n = 1; ; n += 1) {
    const item = {
      n,
      sku: `${word().slice(0, 3).toUpperCase()}-${Math.floor(random() * 100_000)}`,
      name: `${word()} ${word()} ${word()}`,
      price: Math.round(random() * 100_000) / 100,
      stock: Math.floor(random() * 500),
      updatedAt: isoAt(Math.floor(random() * 8_760)),
      tags: [word(), word()],
    };
    const itemBytes = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (size + itemBytes > bodyBytes) break;
    base.items.push(item);
    size += itemBytes;
  }
  size = Buffer.byteLength(JSON.stringify(base));
  let padding = '';
  while (padding.length < bodyBytes - size) padding += `${word()} `;
  return JSON.stringify({ ...base, padding: padding.slice(0, Math.max(0, bodyBytes - size)) });
}

export function generatedSourceId(index: number): string {
  return `gen-${String(index).padStart(5, '0')}`;
}

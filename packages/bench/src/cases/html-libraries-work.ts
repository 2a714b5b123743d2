import { readFile } from 'node:fs/promises';
import * as cheerio from 'cheerio';
import * as cheerioSlim from 'cheerio/slim';
import { selectAll, selectOne } from 'css-select';
import type { AnyNode, Element } from 'domhandler';
import { getAttributeValue, getInnerHTML, textContent } from 'domutils';
import { parseDocument } from 'htmlparser2';

/** What every library extracts from a product card: text, attributes, inner HTML, a list. */
export interface ProductRecord {
  readonly sku: string | undefined;
  readonly name: string | undefined;
  readonly url: string | undefined;
  readonly price: string | undefined;
  readonly image: string | undefined;
  readonly tags: readonly string[];
  readonly description: string | undefined;
}

/** Parses one page and extracts its product cards. */
export type HtmlReader = (html: string) => ProductRecord[];

const squash = (text: string | undefined) => text?.replace(/[\t\n\f\r ]+/g, ' ').trim();

/** htmlparser2's DOM queried with css-select and domutils directly. */
const htmlparser2Reader: HtmlReader = (html) => {
  const document = parseDocument(html);
  return selectAll<AnyNode, Element>('li.product', document).map((item) => {
    const link = selectOne<AnyNode, Element>('h2.name a', item);
    const price = selectOne<AnyNode, Element>('.price', item);
    const image = selectOne<AnyNode, Element>('img', item);
    const description = selectOne<AnyNode, Element>('.desc', item);
    return {
      sku: getAttributeValue(item, 'data-sku'),
      name: link ? squash(textContent(link)) : undefined,
      url: link ? getAttributeValue(link, 'href') : undefined,
      price: price ? squash(textContent(price)) : undefined,
      image: image ? getAttributeValue(image, 'src') : undefined,
      tags: selectAll<AnyNode, Element>('.tags a', item).map(
        (tag) => squash(textContent(tag)) ?? '',
      ),
      description: description ? getInnerHTML(description) : undefined,
    };
  });
};

/** The same with cheerio's API, on the document cheerio's `load` gives. */
function cheerioReader(load: typeof cheerio.load): HtmlReader {
  return (html) => {
    const $ = load(html);
    return $('li.product')
      .toArray()
      .map((element) => {
        const item = $(element);
        const link = item.find('h2.name a').first();
        const description = item.find('.desc').first();
        return {
          sku: item.attr('data-sku'),
          name: link.length > 0 ? squash(link.text()) : undefined,
          url: link.attr('href'),
          price: squash(item.find('.price').first().text()),
          image: item.find('img').first().attr('src'),
          tags: item
            .find('.tags a')
            .toArray()
            .map((tag) => squash($(tag).text()) ?? ''),
          description: description.length > 0 ? (description.html() ?? undefined) : undefined,
        };
      });
  };
}

export const HTML_READERS: Readonly<Record<string, HtmlReader>> = {
  'htmlparser2 12 + css-select 7 + domutils 4': htmlparser2Reader,
  'cheerio 1.2.0 (parse5)': cheerioReader(cheerio.load),
  'cheerio 1.2.0 slim (htmlparser2 10)': cheerioReader(cheerioSlim.load as typeof cheerio.load),
};

/** The module(s) each reader's bundle holds, for the size and load-time figures. */
export const HTML_MODULES: Readonly<Record<string, string>> = {
  'htmlparser2 12 + css-select 7 + domutils 4': `export { parseDocument } from 'htmlparser2'; export { selectAll, selectOne } from 'css-select'; export { getAttributeValue, getInnerHTML, textContent } from 'domutils';`,
  'cheerio 1.2.0 (parse5)': `export { load } from 'cheerio';`,
  'cheerio 1.2.0 slim (htmlparser2 10)': `export { load } from 'cheerio/slim';`,
};

export interface HtmlThroughput {
  readonly bytes: number;
  readonly records: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  /** Peak RSS of the process (VmHWM), MB. */
  readonly peakRssMb: number;
  /** The first record, to compare what the libraries read. */
  readonly first: ProductRecord | undefined;
}

export async function peakRssMb(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8');
  const kb = /VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1];
  return kb === undefined ? process.memoryUsage().rss / 1024 / 1024 : Number(kb) / 1024;
}

/** Runs `perPage` over every page file, one page at a time (as the parser reads pages). */
async function measurePages(
  files: readonly string[],
  perPage: (page: Buffer, index: number) => Promise<ProductRecord[] | number>,
): Promise<HtmlThroughput> {
  let bytes = 0;
  let records = 0;
  let first: ProductRecord | undefined;
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (const [index, file] of files.entries()) {
    const page = await readFile(file);
    bytes += page.length;
    const found = await perPage(page, index);
    records += typeof found === 'number' ? found : found.length;
    if (typeof found !== 'number') first ??= found[0];
  }
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return {
    bytes,
    records,
    wallMs,
    cpuMs: (used.user + used.system) / 1000,
    peakRssMb: await peakRssMb(),
    first,
  };
}

/** One library over every page file. */
export async function htmlReaderThroughput(
  name: string,
  files: readonly string[],
): Promise<HtmlThroughput> {
  const reader = HTML_READERS[name];
  if (!reader) throw new Error(`unknown HTML reader ${name}`);
  return measurePages(files, async (page) => reader(page.toString('utf8')));
}

/**
 * The parser itself on the same pages: `parseStream` with the html format (decode, DOM,
 * selectors, records, envelope, gzip) from each page file into a counting sink, one page at a
 * time as the parser gets them (one pack entry or raw object each).
 */
export async function parserHtmlThroughput(files: readonly string[]): Promise<HtmlThroughput> {
  const { bytesSource, loadConfig, parseStream } = await import('@fanout/parser');
  const { Writable } = await import('node:stream');
  const config = loadConfig({ FANOUT_BUCKET: 'unused' });
  return measurePages(files, async (page, index) => {
    const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
    const stats = await parseStream(bytesSource(page), sink, {
      format: 'html',
      formatOptions: PARSER_HTML_OPTIONS,
      contentType: 'text/html; charset=utf-8',
      pageUrl: `https://shop.example/list?page=${index + 1}`,
      envelope: {
        sourceId: 'shop',
        runId: '20261206T080000Z',
        page: index,
        fetchedAt: '2026-12-06T08:00:00.000Z',
      },
      limits: config,
      gzipLevel: config.gzipLevel,
    });
    return stats.records;
  });
}

/** The manifest options that read the same fields as the library readers. */
export const PARSER_HTML_OPTIONS = {
  items: 'li.product',
  fields: {
    sku: '@data-sku',
    name: 'h2.name a',
    url: 'h2.name a@href',
    price: '.price',
    image: 'img@src',
    tags: { selector: '.tags a', all: true },
    description: { selector: '.desc', html: true },
  },
};

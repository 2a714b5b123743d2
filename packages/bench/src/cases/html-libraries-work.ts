import { readFile } from 'node:fs/promises';
import * as cheerio from 'cheerio';
import * as cheerioSlim from 'cheerio/slim';
import { selectAll, selectOne } from 'css-select';
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
  return selectAll('li.product', document).map((item) => {
    const link = selectOne('h2.name a', item);
    const price = selectOne('.price', item);
    const image = selectOne('img', item);
    const description = selectOne('.desc', item);
    return {
      sku: getAttributeValue(item, 'data-sku'),
      name: link ? squash(textContent(link)) : undefined,
      url: link ? getAttributeValue(link, 'href') : undefined,
      price: price ? squash(textContent(price)) : undefined,
      image: image ? getAttributeValue(image, 'src') : undefined,
      tags: selectAll('.tags a', item).map((tag) => squash(textContent(tag)) ?? ''),
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

/** One reader over every page file, one page at a time (as the parser reads pages). */
export async function htmlReaderThroughput(
  name: string,
  files: readonly string[],
): Promise<HtmlThroughput> {
  const reader = HTML_READERS[name];
  if (!reader) throw new Error(`unknown HTML reader ${name}`);
  let bytes = 0;
  let records = 0;
  let first: ProductRecord | undefined;
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (const file of files) {
    const page = await readFile(file);
    bytes += page.length;
    const found = reader(page.toString('utf8'));
    records += found.length;
    first ??= found[0];
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

import type { FormatOptions, HtmlFieldSpec } from '@fanout/shared';
import { HtmlRecordReader, HtmlValueError, parseHtmlPage } from '@fanout/shared/html';
import { MalformedInputError } from '../errors.js';
import { type Extractor, RecordBatch } from './types.js';

/**
 * Largest page the `html` format parses. The whole page is parsed into a DOM before its items
 * are selected, and htmlparser2's DOM of dense markup takes about 17 times the page's size on
 * the heap (70 MB for 4 MB of product cards, 277 MB for 16 MB): 8 MiB keeps a 256 MB
 * function within its memory.
 */
export const HTML_PAGE_MAX_BYTES = 8 * 1024 * 1024;

/** Records handed on together. */
const BATCH_RECORDS = 500;

/** Compiled options of the sources seen lately (a pack holds many pages of few sources). */
const readers = new Map<string, HtmlRecordReader>();
const READERS_KEPT = 32;

function readerFor(options: FormatOptions): HtmlRecordReader {
  const key = JSON.stringify([options.items, options.fields]);
  let reader = readers.get(key);
  if (reader === undefined) {
    const fields: Record<string, HtmlFieldSpec> = options.fields ?? {};
    reader = new HtmlRecordReader(options.items, fields);
    if (readers.size >= READERS_KEPT) readers.clear();
    readers.set(key, reader);
  }
  return reader;
}

/**
 * HTML pages to records: `options.items` selects each record's element (absent: the page is
 * one record), `options.fields` the values read from it (see `@fanout/shared` html-options).
 * The body arrives decoded to UTF-8 (BOM, HTTP charset, then `<meta charset>`).
 */
export const html: Extractor = async function* html(input, context) {
  const { fields } = context.options;
  if (fields === undefined || Object.keys(fields).length === 0) {
    throw new MalformedInputError(context.format, 'options.fields names no field to read');
  }
  const reader = readerFor(context.options);
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of input as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > HTML_PAGE_MAX_BYTES) {
      throw new MalformedInputError(
        context.format,
        `the page passed the ${HTML_PAGE_MAX_BYTES}-byte limit of the html format (its DOM takes about 17 times its size in memory)`,
        { byteOffset: HTML_PAGE_MAX_BYTES },
      );
    }
    chunks.push(chunk);
  }
  const page = parseHtmlPage(Buffer.concat(chunks, bytes).toString('utf8'), context.pageUrl);
  let batch: unknown[] = [];
  let index = 0;
  for (const item of reader.itemsOf(page)) {
    try {
      batch.push(reader.record(item, page));
    } catch (error) {
      if (!(error instanceof HtmlValueError)) throw error;
      throw new MalformedInputError(context.format, error.message, { record: index });
    }
    index += 1;
    if (batch.length >= BATCH_RECORDS) {
      yield new RecordBatch(batch);
      batch = [];
    }
  }
  if (batch.length > 0) yield new RecordBatch(batch);
};

import type { Readable } from 'node:stream';
import type { CollectorPayload, CollectorTask, PackEntryFields } from '@fanout/shared';
import { rawKey, redactUrl } from '@fanout/shared';
import type { BufferedBody } from './body.js';
import type { FetchDeps, FetchedPage } from './fetch-source.js';
import type { PackWriter } from './pack.js';
import { pageSelection } from './record-selection.js';
import { type StoreTarget, storeRawPage } from './store.js';

const EXTENSIONS: Readonly<Record<string, string>> = {
  json: 'json',
  ndjson: 'ndjson',
  csv: 'csv',
  rss: 'xml',
  atom: 'xml',
  html: 'html',
};

/** File extension of a raw object: the format's own, xml for feeds, else `raw`. */
export function extensionFor(format: string): string {
  return EXTENSIONS[format] ?? 'raw';
}

/** Streams a page to its own raw key, as every page was stored before packs. */
async function storeOwnObject(
  payload: CollectorPayload,
  task: CollectorTask,
  page: FetchedPage,
  deps: FetchDeps & StoreTarget,
): Promise<string> {
  const { source } = task;
  const key = rawKey({
    sourceId: source.id,
    runId: payload.runId,
    scheduledAt: payload.scheduledAt,
    page: page.page,
    extension: extensionFor(source.format),
  });
  const contentType = page.headers['content-type'];
  const { emit: _emit, ...selection } = pageSelection(task);
  await storeRawPage(deps, key, page.body, contentType, {
    runId: payload.runId,
    sourceId: source.id,
    batchId: payload.batchId,
    format: source.format,
    formatOptions: source.options,
    ...(source.key ? { recordKey: source.key } : {}),
    ...selection,
    ...(contentType ? { contentType } : {}),
    fetchedAt: page.fetchedAt,
    scheduledAt: payload.scheduledAt,
    sha256: page.body.sha256,
    httpStatus: page.status,
    page: page.page,
    url: page.url,
  });
  deps.log.info('stored raw object', {
    sourceId: source.id,
    key,
    bytes: page.body.bytes,
    spooled: page.body.spooled,
  });
  return key;
}

/** The bytes of a body small enough for a pack entry (a spooled one is read back). */
async function bodyBuffer(body: BufferedBody): Promise<Buffer> {
  const content = body.open();
  if (Buffer.isBuffer(content)) return content;
  const chunks: Buffer[] = [];
  for await (const chunk of content as Readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** What a pack entry says about its page, so the parser needs nothing else. */
function entryFields(task: CollectorTask, page: FetchedPage): PackEntryFields {
  const { headers } = page;
  const contentType = headers['content-type'];
  // No contentEncoding: the fetch decoded the body, so the entry holds the real bytes.
  return {
    sourceId: task.source.id,
    page: page.page,
    url: redactUrl(page.url),
    httpStatus: page.status,
    ...(contentType ? { contentType } : {}),
    ...(headers.etag ? { etag: headers.etag } : {}),
    ...(headers['last-modified'] ? { lastModified: headers['last-modified'] } : {}),
    fetchedAt: page.fetchedAt,
    sha256: page.body.sha256,
    format: task.source.format,
    formatOptions: task.source.options,
    ...(task.source.key ? { key: task.source.key } : {}),
    ...pageSelection(task),
  };
}

/**
 * Stores a fetched source's pages: each page small enough goes into the hop's pack, any
 * other to its own raw object. Returns the raw key of each page, in page order.
 */
export async function storePages(
  payload: CollectorPayload,
  task: CollectorTask,
  pages: readonly FetchedPage[],
  deps: FetchDeps & StoreTarget,
  pack: PackWriter,
): Promise<string[]> {
  const { source } = task;
  const rawKeys: string[] = [];
  for (const page of pages) {
    const packable = page.body.bytes <= deps.settings.packEntryMaxBytes;
    if (packable && (await pack.append(entryFields(task, page), await bodyBuffer(page.body)))) {
      deps.log.info('packed raw page', {
        sourceId: source.id,
        page: page.page,
        url: redactUrl(page.url),
        key: pack.key,
        bytes: page.body.bytes,
        spooled: page.body.spooled,
        ...(page.decodedFrom ? { decodedFrom: page.decodedFrom } : {}),
      });
      rawKeys.push(pack.key);
      continue;
    }
    if (packable) {
      deps.log.info('pack is full; storing the page on its own', {
        sourceId: source.id,
        page: page.page,
        packBytes: pack.bytes,
        packMaxBytes: deps.settings.packMaxBytes,
      });
    }
    rawKeys.push(await storeOwnObject(payload, task, page, deps));
  }
  return rawKeys;
}

import { htmlEncodingLabel } from '@fanout/shared';
import { allLinks, firstLink, type HtmlPage, parseHtmlPage } from '@fanout/shared/html';
import type { BufferedBody } from './body.js';
import { PaginationError } from './errors.js';

/** Bytes of a page read for its next link: more is not parsed (the link is near the top or bottom of any sane page). */
export const HTML_NEXT_MAX_BYTES = 8 * 1024 * 1024;

async function pageBytes(body: BufferedBody): Promise<Buffer> {
  const content = body.open();
  if (Buffer.isBuffer(content)) return content;
  const chunks: Buffer[] = [];
  for await (const chunk of content) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A decoder for `label`, UTF-8 when Node does not know it (a link is ASCII either way). */
function decoderFor(label: string): InstanceType<typeof TextDecoder> {
  try {
    return new TextDecoder(label);
  } catch {
    return new TextDecoder('utf-8');
  }
}

/**
 * The next page's reference on an HTML page: the first element `selector` matches, its
 * attribute (`@href` unless another is named), resolved against the page's `<base href>` or
 * its URL. Decoded as the parser decodes it (BOM, HTTP charset, `<meta charset>`), with bad
 * bytes replaced: only a link is read. Loaded only when a source paginates HTML.
 */
export async function nextHtmlLink(
  sourceId: string,
  page: { readonly url: URL; readonly body: BufferedBody; readonly contentType?: string },
  selector: string,
): Promise<string | undefined> {
  return firstLink(await readHtmlPage(sourceId, page, 'a next link'), selector);
}

/** Every link `spec` selects on a page (`ul.products a@href`), resolved, in document order. */
export async function htmlLinks(
  sourceId: string,
  page: { readonly url: URL; readonly body: BufferedBody; readonly contentType?: string },
  spec: string,
): Promise<string[]> {
  return allLinks(await readHtmlPage(sourceId, page, 'links to follow'), spec);
}

/** A page decoded as the parser decodes it (bad bytes replaced: only links are read), parsed. */
async function readHtmlPage(
  sourceId: string,
  page: { readonly url: URL; readonly body: BufferedBody; readonly contentType?: string },
  readFor: string,
): Promise<HtmlPage> {
  const { body, url, contentType } = page;
  if (body.bytes > HTML_NEXT_MAX_BYTES) {
    throw new PaginationError(
      sourceId,
      `page ${url.href} has ${body.bytes} bytes, more than the ${HTML_NEXT_MAX_BYTES} read for ${readFor}`,
    );
  }
  const bytes = await pageBytes(body);
  const text = decoderFor(htmlEncodingLabel(bytes.subarray(0, 1024), contentType)).decode(bytes);
  return parseHtmlPage(text, url.href);
}

import { compile, selectAll, selectOne } from 'css-select';
import { type AnyNode, type Document, type Element, isTag, isText } from 'domhandler';
import { getAttributeValue, getInnerHTML } from 'domutils';
import { parseDocument } from 'htmlparser2';
import { FanoutContractError } from '../errors.js';
import {
  type HtmlField,
  type HtmlFieldSpec,
  readHtmlField,
  splitAttribute,
} from '../html-options.js';

/**
 * HTML pages to values, the one implementation of the `html` format's selectors: the parser
 * reads records with it, the collector the next page of `html-next` pagination. Pages are
 * parsed with htmlparser2 (a forgiving parser: what a browser would make of broken markup,
 * mostly) and queried with css-select; both are loaded only by code that reads HTML.
 */

/** A value that cannot be read: a relative URL on a page whose own URL is not known. */
export class HtmlValueError extends FanoutContractError {
  override name = 'HtmlValueError';
}

export interface HtmlPage {
  readonly document: Document;
  /** What relative URLs resolve against: the page's `<base href>`, else its final URL. */
  readonly baseUrl: URL | undefined;
}

function parsedUrl(text: string, base?: URL | string): URL | undefined {
  try {
    return new URL(text, base);
  } catch {
    return undefined;
  }
}

/**
 * Parses a page (decoded text). `pageUrl` is the URL that answered (after redirects); the
 * first `<base href>` overrides it as the HTML standard says.
 */
export function parseHtmlPage(text: string, pageUrl: string | undefined): HtmlPage {
  const document = parseDocument(text);
  const page = pageUrl === undefined ? undefined : parsedUrl(pageUrl);
  const base = selectOne<AnyNode, Element>('base[href]', document);
  const href = base ? stripAndCollapse(getAttributeValue(base, 'href') ?? '') : undefined;
  const baseUrl = href !== undefined ? (parsedUrl(href, page) ?? page) : page;
  return { document, baseUrl };
}

/** The HTML standard's "strip and collapse ASCII whitespace". */
export function stripAndCollapse(text: string): string {
  return text.replace(/[\t\n\f\r ]+/g, ' ').trim();
}

/** Elements whose text is not page text. */
const NOT_TEXT = new Set(['script', 'style', 'template', 'noscript']);

/** Elements that start on a line of their own: their text is set apart by whitespace. */
const BLOCKS = new Set(
  'address article aside blockquote body br dd details dialog div dl dt fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr html li main nav ol p pre section summary table tbody td tfoot th thead tr ul option'.split(
    ' ',
  ),
);

function collectText(node: AnyNode, parts: string[]): void {
  if (isText(node)) {
    parts.push(node.data);
    return;
  }
  if (!isTag(node) || NOT_TEXT.has(node.name)) return;
  const block = BLOCKS.has(node.name);
  if (block) parts.push(' ');
  for (const child of node.children) collectText(child, parts);
  if (block) parts.push(' ');
}

/**
 * An element's text as a reader sees it: script and style left out, block elements and
 * `<br>` apart from their neighbours, ASCII whitespace collapsed and trimmed.
 */
export function elementText(element: Element): string {
  const parts: string[] = [];
  for (const child of element.children) collectText(child, parts);
  return stripAndCollapse(parts.join(''));
}

/** Attributes whose value is a URL (the HTML standard's attribute index). */
const URL_ATTRIBUTES = new Set([
  'action',
  'background',
  'cite',
  'codebase',
  'data',
  'formaction',
  'href',
  'icon',
  'itemid',
  'longdesc',
  'manifest',
  'poster',
  'src',
]);
/** Attributes whose value is a list of URLs. */
const URL_LIST_ATTRIBUTES = new Set(['srcset', 'imagesrcset', 'ping']);

function resolved(reference: string, page: HtmlPage, attribute: string): string {
  if (reference === '' && attribute !== 'href') return reference;
  const absolute = parsedUrl(reference);
  if (absolute) return absolute.href;
  if (page.baseUrl === undefined) {
    throw new HtmlValueError(
      `cannot resolve the relative URL ${JSON.stringify(reference)} in @${attribute}: the page's own URL is not known`,
    );
  }
  // A reference that is not a URL even against the base (`http://[`) is kept as written.
  return parsedUrl(reference, page.baseUrl)?.href ?? reference;
}

/** An attribute's value, whitespace collapsed, URLs resolved against the page's base URL. */
export function attributeValue(
  element: Element,
  attribute: string,
  page: HtmlPage,
): string | undefined {
  const raw = getAttributeValue(element, attribute);
  if (raw === undefined) return undefined;
  const value = stripAndCollapse(raw);
  if (URL_ATTRIBUTES.has(attribute)) return resolved(value, page, attribute);
  if (attribute === 'ping') {
    return value
      .split(' ')
      .filter((part) => part !== '')
      .map((part) => resolved(part, page, attribute))
      .join(' ');
  }
  if (URL_LIST_ATTRIBUTES.has(attribute)) {
    // srcset: "url 2x, url 640w"; each candidate's URL resolved, descriptors kept.
    return value
      .split(/\s*,\s*/)
      .filter((candidate) => candidate !== '')
      .map((candidate) => {
        const [url = '', ...descriptors] = candidate.split(' ');
        return [resolved(url, page, attribute), ...descriptors].join(' ');
      })
      .join(', ');
  }
  return value;
}

type Query = (context: AnyNode) => Element[];

/**
 * A selector compiled once. A relative one (`> li`, `:scope > a`) needs its context node at
 * compile time, so it is compiled per use.
 */
function query(selector: string, all: boolean): Query {
  if (/^\s*[>+~]/.test(selector) || selector.includes(':scope')) {
    return all
      ? (context) => selectAll<AnyNode, Element>(selector, context)
      : (context) => {
          const one = selectOne<AnyNode, Element>(selector, context);
          return one ? [one] : [];
        };
  }
  const compiled = compile<AnyNode, Element>(selector);
  return all
    ? (context) => selectAll<AnyNode, Element>(compiled, context)
    : (context) => {
        const one = selectOne<AnyNode, Element>(compiled, context);
        return one ? [one] : [];
      };
}

export type HtmlValue = string | null | string[];

interface CompiledField {
  readonly name: string;
  readonly field: HtmlField;
  /** Undefined for the item itself. */
  readonly query?: Query;
}

function fieldValue(element: Element, field: HtmlField, page: HtmlPage): string | undefined {
  if (field.attribute !== undefined) return attributeValue(element, field.attribute, page);
  if (field.html) return getInnerHTML(element, { encodeEntities: 'utf8' }).trim();
  return elementText(element);
}

/**
 * The `html` format's options compiled once for many pages: `items` selects each record's
 * element (absent: the page is one record), `fields` the values read from it.
 */
export class HtmlRecordReader {
  private readonly items: Query | undefined;
  private readonly fields: readonly CompiledField[];

  constructor(items: string | undefined, fields: Readonly<Record<string, HtmlFieldSpec>>) {
    this.items = items === undefined ? undefined : query(items, true);
    this.fields = Object.entries(fields).map(([name, spec]) => {
      const field = readHtmlField(spec);
      return field.selector === ''
        ? { name, field }
        : { name, field, query: query(field.selector, field.all) };
    });
  }

  /** The elements the records are read from, in document order. */
  itemsOf(page: HtmlPage): readonly (Element | Document)[] {
    return this.items ? this.items(page.document) : [page.document];
  }

  /** One record: every field, `null` (or `[]` for a list) when nothing matches. */
  record(item: Element | Document, page: HtmlPage): Record<string, HtmlValue> {
    const record: Record<string, HtmlValue> = {};
    for (const { name, field, query: select } of this.fields) {
      const matches = select ? select(item) : isTag(item) ? [item] : [];
      const values: string[] = [];
      for (const match of matches) {
        const value = fieldValue(match, field, page);
        if (value !== undefined) values.push(value);
      }
      record[name] = field.all ? values : (values[0] ?? null);
    }
    return record;
  }
}

/**
 * The first value a short-form field (`a[rel=next]@href`) selects on a page, `href` when it
 * names no attribute; undefined when nothing matches. For `html-next` pagination.
 */
export function firstLink(page: HtmlPage, spec: string): string | undefined {
  const { selector, attribute = 'href' } = splitAttribute(spec);
  for (const element of selectAll<AnyNode, Element>(selector, page.document)) {
    const value = attributeValue(element, attribute, page);
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

/**
 * Every value a short-form field (`ul.products a@href`) selects on a page, in document order,
 * `href` when it names no attribute; empty values left out. For `follow` links.
 */
export function allLinks(page: HtmlPage, spec: string): string[] {
  const { selector, attribute = 'href' } = splitAttribute(spec);
  const links: string[] = [];
  for (const element of selectAll<AnyNode, Element>(selector, page.document)) {
    const value = attributeValue(element, attribute, page);
    if (value !== undefined && value !== '') links.push(value);
  }
  return links;
}

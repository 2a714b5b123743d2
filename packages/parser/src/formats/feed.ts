import { StringDecoder } from 'node:string_decoder';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { MalformedInputError, RecordTooLargeError } from '../errors.js';
import { HTML_ENTITIES } from './html-entities.js';
import type { Extractor, ExtractorContext } from './types.js';

/** One RSS item or Atom entry, normalized. Absent fields are left out. */
export interface FeedRecord {
  id?: string;
  title?: string;
  link?: string;
  published?: string;
  updated?: string;
  author?: string;
  summary?: string;
  content?: string;
  categories?: string[];
  enclosure?: { url: string; type?: string; length?: string };
}

type FeedKind = 'rss' | 'atom';
type TextField =
  | 'id'
  | 'title'
  | 'link'
  | 'published'
  | 'updated'
  | 'author'
  | 'summary'
  | 'content';
type Field = TextField | 'categories';

interface Dialect {
  readonly roots: readonly string[];
  readonly item: string;
  /** Item children that become fields, by element name (RSS: qualified, Atom: local). */
  readonly fields: Readonly<Record<string, Field>>;
  /** Element names are compared by local name (Atom elements may carry a prefix). */
  readonly byLocalName: boolean;
}

const DIALECTS: Record<FeedKind, Dialect> = {
  rss: {
    // RSS 2.0 (<rss>) and RSS 1.0 (<rdf:RDF>), whose items sit beside the channel.
    roots: ['rss', 'rdf:RDF'],
    item: 'item',
    fields: {
      guid: 'id',
      title: 'title',
      link: 'link',
      pubDate: 'published',
      'dc:date': 'published',
      author: 'author',
      'dc:creator': 'author',
      description: 'summary',
      'content:encoded': 'content',
      category: 'categories',
      'dc:subject': 'categories',
    },
    byLocalName: false,
  },
  atom: {
    roots: ['feed'],
    item: 'entry',
    fields: {
      id: 'id',
      title: 'title',
      published: 'published',
      updated: 'updated',
      author: 'author',
      summary: 'summary',
      content: 'content',
    },
    byLocalName: true,
  },
};

function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(colon + 1);
}

class ItemBuilder {
  private readonly text = new Map<TextField, string>();
  private readonly categories: string[] = [];
  private enclosure: FeedRecord['enclosure'];
  bytes = 0;

  setText(field: TextField, value: string): void {
    if (value !== '' && !this.text.has(field)) this.text.set(field, value);
  }

  addCategory(value: string): void {
    if (value !== '') this.categories.push(value);
  }

  setEnclosure(attributes: Record<string, string>): void {
    const url = attributes.url;
    if (url === undefined || this.enclosure) return;
    this.enclosure = {
      url,
      ...(attributes.type !== undefined ? { type: attributes.type } : {}),
      ...(attributes.length !== undefined ? { length: attributes.length } : {}),
    };
  }

  /** Fixed key order, so the same item always serializes to the same bytes. */
  build(): FeedRecord {
    const record: FeedRecord = {};
    const order: TextField[] = [
      'id',
      'title',
      'link',
      'published',
      'updated',
      'author',
      'summary',
      'content',
    ];
    for (const field of order) {
      const value = this.text.get(field);
      if (value !== undefined) record[field] = value;
    }
    if (this.categories.length > 0) record.categories = this.categories;
    if (this.enclosure) record.enclosure = this.enclosure;
    return record;
  }
}

interface Capture {
  readonly field: Field;
  /** Atom <author>: only the text of its <name> child counts. */
  readonly onlyChild?: string;
  text: string;
  /** The same content as markup: child elements (HTML in a description) kept as tags. */
  markup: string;
  hasMarkup: boolean;
  /** Atom `type="xhtml"`: the content is the markup inside its <div> wrapper (RFC 4287 3.1.1.3). */
  readonly xhtml: boolean;
}

const escapeText = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function startTag(tag: SaxesTagPlain): string {
  const attributes = Object.entries(tag.attributes)
    .map(([name, value]) => ` ${name}="${escapeText(value).replace(/"/g, '&quot;')}"`)
    .join('');
  return `<${tag.name}${attributes}${tag.isSelfClosing ? '/' : ''}>`;
}

/** Leading whitespace, which some feeds put before the XML declaration. */
const LEADING_WHITESPACE = /^[\t\n\r ]+/;

/**
 * RSS 2.0 items or Atom entries, read with a streaming XML parser: only the
 * item being read is held in memory. DTDs and external entities are not
 * processed (saxes does not resolve them), so a feed cannot pull in files.
 * The input is UTF-8 text (the parser decoded the body): saxes reads the XML
 * declaration's `encoding` but never decodes by it, so it is not applied twice.
 *
 * Unless `formatOptions.strict` is set, two things real feeds do are accepted, as
 * Python's feedparser accepts them: whitespace before the XML declaration, and the
 * HTML 4 named entities (`&nbsp;`, `&eacute;`, …) without a declaration.
 */
function feedExtractor(kind: FeedKind): Extractor {
  const dialect = DIALECTS[kind];
  return async function* feed(input, context: ExtractorContext) {
    const strict = context.options.strict === true;
    const parser = new SaxesParser({ position: true, xmlns: false });
    if (!strict) Object.assign(parser.ENTITIES, HTML_ENTITIES);
    const decoder = new StringDecoder('utf8');
    const ready: FeedRecord[] = [];
    const stack: string[] = [];
    let rootSeen = false;
    let item: ItemBuilder | undefined;
    let itemDepth = 0;
    let capture: Capture | undefined;
    let failure: Error | undefined;
    let emitted = 0;
    // For byte offsets in errors: saxes counts characters, the report wants bytes.
    let bytesBefore = 0;
    let charsBefore = 0;
    let chunkText = '';
    // Bytes of text given to saxes before this chunk, and whitespace skipped before the document.
    let fedBytes = 0;
    let skippedBytes = 0;
    let skippedLines = 0;
    let started = strict;

    const nameOf = (name: string) => (dialect.byLocalName ? localName(name) : name);
    const location = () => {
      const charsIntoChunk = Math.max(0, parser.position - charsBefore);
      return {
        line: parser.line + skippedLines,
        record: emitted + ready.length,
        byteOffset:
          skippedBytes + fedBytes + Buffer.byteLength(chunkText.slice(0, charsIntoChunk), 'utf8'),
      };
    };
    const fail = (error: Error) => {
      failure ??= error;
    };

    parser.on('error', (error) => {
      const column = parser.column;
      const message = error.message.replace(/^\d+:\d+: /, '');
      fail(
        new MalformedInputError(context.format, `${message} (column ${column + 1})`, location()),
      );
    });
    parser.on('opentag', (tag: SaxesTagPlain) => {
      stack.push(tag.name);
      const depth = stack.length;
      if (!rootSeen) {
        rootSeen = true;
        if (!dialect.roots.includes(tag.name) && !dialect.roots.includes(nameOf(tag.name))) {
          fail(
            new MalformedInputError(
              context.format,
              `expected a <${dialect.roots.join('> or <')}> root element, got <${tag.name}>`,
              { ...location(), record: 0 },
            ),
          );
        }
        return;
      }
      if (capture && capture.onlyChild === undefined) {
        if (capture.xhtml && depth === itemDepth + 2) return;
        capture.markup += startTag(tag);
        capture.hasMarkup = true;
        return;
      }
      const name = nameOf(tag.name);
      if (!item) {
        // Atom entries are children of <feed>; RSS items sit in <channel> (2.0) or beside it (1.0).
        if (name === dialect.item && (kind === 'rss' || depth === 2)) {
          item = new ItemBuilder();
          itemDepth = depth;
        }
        return;
      }
      if (depth !== itemDepth + 1) return;
      const attributes = tag.attributes;
      if (kind === 'atom' && name === 'link') {
        const rel = attributes.rel ?? 'alternate';
        if (rel === 'alternate' && attributes.href !== undefined)
          item.setText('link', attributes.href);
        return;
      }
      if (kind === 'atom' && name === 'category') {
        if (attributes.term !== undefined) item.addCategory(attributes.term);
        return;
      }
      if (kind === 'rss' && name === 'enclosure') {
        item.setEnclosure(attributes);
        return;
      }
      const field = dialect.fields[name];
      if (field !== undefined) {
        capture = {
          field,
          text: '',
          markup: '',
          hasMarkup: false,
          xhtml: kind === 'atom' && attributes.type === 'xhtml',
          ...(kind === 'atom' && field === 'author' ? { onlyChild: 'name' } : {}),
        };
      }
    });
    const onText = (text: string) => {
      if (!item || !capture) return;
      if (
        capture.onlyChild !== undefined &&
        nameOf(stack[itemDepth + 1] ?? '') !== capture.onlyChild
      )
        return;
      capture.text += text;
      capture.markup += escapeText(text);
      item.bytes += text.length * 2;
      if (item.bytes > context.maxRecordBytes) {
        fail(new RecordTooLargeError(context.format, context.maxRecordBytes, location()));
      }
    };
    parser.on('text', onText);
    parser.on('cdata', onText);
    parser.on('closetag', (tag: SaxesTagPlain) => {
      const depth = stack.length;
      stack.pop();
      if (!item) return;
      if (capture && depth > itemDepth + 1 && capture.onlyChild === undefined) {
        if (capture.xhtml && depth === itemDepth + 2) return;
        if (!tag.isSelfClosing) capture.markup += `</${tag.name}>`;
        return;
      }
      if (capture && depth === itemDepth + 1) {
        const value = (capture.hasMarkup ? capture.markup : capture.text).trim();
        if (capture.field === 'categories') item.addCategory(value);
        else item.setText(capture.field, value);
        capture = undefined;
      } else if (depth === itemDepth) {
        ready.push(item.build());
        item = undefined;
      }
    });

    const feedText = (decoded: string) => {
      let text = decoded;
      if (!started) {
        const skipped = LEADING_WHITESPACE.exec(text)?.[0] ?? '';
        skippedBytes += skipped.length;
        skippedLines += skipped.split('\n').length - 1;
        text = text.slice(skipped.length);
        started = text !== '';
      }
      chunkText = text;
      charsBefore = parser.position;
      parser.write(text);
      fedBytes += Buffer.byteLength(text, 'utf8');
    };

    for await (const chunk of input) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
      feedText(decoder.write(bytes));
      bytesBefore += bytes.length;
      if (failure) throw failure;
      for (const record of ready) yield record;
      emitted += ready.length;
      ready.length = 0;
    }
    feedText(decoder.end());
    if (!rootSeen && !failure) {
      throw new MalformedInputError(context.format, 'empty document (no root element)', {
        byteOffset: bytesBefore,
      });
    }
    parser.close();
    if (failure) throw failure;
    for (const record of ready) yield record;
  };
}

export const rss = feedExtractor('rss');
export const atom = feedExtractor('atom');

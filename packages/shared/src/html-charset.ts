/**
 * The HTML standard's prescan of a byte stream for its encoding (WHATWG HTML, "prescan a byte
 * stream to determine its encoding"): the first `<meta charset>` or `<meta http-equiv=
 * "Content-Type" content="...; charset=...">` in the first 1,024 bytes, skipping comments and
 * other tags as a browser does. Returns the label as written; the caller maps it to an
 * encoding (a label naming UTF-16 means UTF-8 here, since the bytes were readable as ASCII).
 */

/** Bytes the prescan looks at, as the HTML standard says. */
export const HTML_PRESCAN_BYTES = 1024;

const isSpace = (byte: number | undefined) =>
  byte === 0x09 || byte === 0x0a || byte === 0x0c || byte === 0x0d || byte === 0x20;
const isLetter = (byte: number | undefined) =>
  byte !== undefined && ((byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a));
const lower = (byte: number) => (byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte);

interface Attribute {
  readonly name: string;
  readonly value: string;
  readonly end: number;
}

/** The standard's "get an attribute" at `at`; undefined at `>` or the end. */
function getAttribute(bytes: Uint8Array, start: number): Attribute | undefined {
  let at = start;
  while (at < bytes.length && (isSpace(bytes[at]) || bytes[at] === 0x2f)) at += 1;
  if (at >= bytes.length || bytes[at] === 0x3e) return undefined;
  let name = '';
  for (; at < bytes.length; at += 1) {
    const byte = bytes[at] ?? 0;
    if (byte === 0x3d && name !== '') break;
    if (isSpace(byte)) break;
    if (byte === 0x2f || byte === 0x3e) return { name, value: '', end: at };
    name += String.fromCharCode(lower(byte));
  }
  while (at < bytes.length && isSpace(bytes[at])) at += 1;
  if (bytes[at] !== 0x3d) return { name, value: '', end: at };
  at += 1;
  while (at < bytes.length && isSpace(bytes[at])) at += 1;
  const quote = bytes[at];
  let value = '';
  if (quote === 0x22 || quote === 0x27) {
    for (at += 1; at < bytes.length && bytes[at] !== quote; at += 1) {
      value += String.fromCharCode(lower(bytes[at] ?? 0));
    }
    return { name, value, end: at + 1 };
  }
  if (quote === 0x3e) return { name, value: '', end: at };
  for (; at < bytes.length && !isSpace(bytes[at]) && bytes[at] !== 0x3e; at += 1) {
    value += String.fromCharCode(lower(bytes[at] ?? 0));
  }
  return { name, value, end: at };
}

/** The standard's "extract a character encoding from a meta element" (a `content` value). */
export function charsetFromMetaContent(content: string): string | undefined {
  let from = 0;
  for (;;) {
    const found = content.toLowerCase().indexOf('charset', from);
    if (found === -1) return undefined;
    let at = found + 'charset'.length;
    while (isSpace(content.charCodeAt(at))) at += 1;
    if (content[at] !== '=') {
      from = at;
      continue;
    }
    at += 1;
    while (isSpace(content.charCodeAt(at))) at += 1;
    const quote = content[at];
    if (quote === '"' || quote === "'") {
      const close = content.indexOf(quote, at + 1);
      return close === -1 ? undefined : content.slice(at + 1, close);
    }
    const rest = content.slice(at);
    const end = rest.search(/[\t\n\f\r ;]/);
    const value = end === -1 ? rest : rest.slice(0, end);
    return value === '' ? undefined : value;
  }
}

/** What a `<meta>` tag's attributes declare, or undefined; `end` is where the tag stops. */
function metaCharset(bytes: Uint8Array, start: number): { label?: string; end: number } {
  const seen = new Set<string>();
  let gotPragma = false;
  let needPragma: boolean | undefined;
  let charset: string | undefined;
  let at = start;
  for (let attribute = getAttribute(bytes, at); attribute; attribute = getAttribute(bytes, at)) {
    at = attribute.end;
    if (seen.has(attribute.name)) continue;
    seen.add(attribute.name);
    if (attribute.name === 'http-equiv' && attribute.value === 'content-type') gotPragma = true;
    else if (attribute.name === 'content' && charset === undefined) {
      const label = charsetFromMetaContent(attribute.value);
      if (label !== undefined) {
        charset = label;
        needPragma = true;
      }
    } else if (attribute.name === 'charset') {
      charset = attribute.value;
      needPragma = false;
    }
  }
  const declared = needPragma === false || (needPragma === true && gotPragma);
  return declared && charset !== undefined && charset.trim() !== ''
    ? { label: charset.trim(), end: at }
    : { end: at };
}

function startsWithAt(bytes: Uint8Array, at: number, text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const byte = bytes[at + i];
    if (byte === undefined || lower(byte) !== text.charCodeAt(i)) return false;
  }
  return true;
}

/** The label a `<meta>` in the first 1,024 bytes declares, as the HTML standard's prescan finds it. */
export function prescanHtmlCharset(input: Uint8Array): string | undefined {
  const bytes = input.subarray(0, HTML_PRESCAN_BYTES);
  let at = 0;
  while (at < bytes.length) {
    if (bytes[at] !== 0x3c) {
      at += 1;
      continue;
    }
    if (startsWithAt(bytes, at, '<!--')) {
      const close = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).indexOf(
        '-->',
        at + 2,
      );
      if (close === -1) return undefined;
      at = close + 3;
    } else if (
      startsWithAt(bytes, at, '<meta') &&
      (isSpace(bytes[at + 5]) || bytes[at + 5] === 0x2f)
    ) {
      const meta = metaCharset(bytes, at + 6);
      if (meta.label !== undefined) return meta.label;
      at = meta.end + 1;
    } else if (isLetter(bytes[at + 1]) || (bytes[at + 1] === 0x2f && isLetter(bytes[at + 2]))) {
      at += bytes[at + 1] === 0x2f ? 2 : 1;
      while (at < bytes.length && !isSpace(bytes[at]) && bytes[at] !== 0x3e) at += 1;
      for (
        let attribute = getAttribute(bytes, at);
        attribute;
        attribute = getAttribute(bytes, at)
      ) {
        at = attribute.end;
      }
      at += 1;
    } else if (bytes[at + 1] === 0x21 || bytes[at + 1] === 0x2f || bytes[at + 1] === 0x3f) {
      while (at < bytes.length && bytes[at] !== 0x3e) at += 1;
      at += 1;
    } else {
      at += 1;
    }
  }
  return undefined;
}

/** The `charset` parameter of a media type (`text/csv; charset="iso-8859-1"`), if any. */
export function charsetOf(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  for (const parameter of contentType.split(';').slice(1)) {
    const equals = parameter.indexOf('=');
    if (equals === -1 || parameter.slice(0, equals).trim().toLowerCase() !== 'charset') continue;
    const value = parameter
      .slice(equals + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .trim();
    return value === '' ? undefined : value;
  }
  return undefined;
}

/** The encoding a byte order mark at the start names, and its length. */
export function byteOrderMark(head: Uint8Array): { encoding: string; bytes: number } | undefined {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) {
    return { encoding: 'utf-8', bytes: 3 };
  }
  if (head[0] === 0xff && head[1] === 0xfe) return { encoding: 'utf-16le', bytes: 2 };
  if (head[0] === 0xfe && head[1] === 0xff) return { encoding: 'utf-16be', bytes: 2 };
  return undefined;
}

/**
 * The label an HTML page's bytes are decoded with, in the HTML standard's order: BOM, the
 * HTTP `charset`, the `<meta>` prescan, else UTF-8. The parser decides the same way (and
 * names unknown labels); this is for readers that only look for links.
 */
export function htmlEncodingLabel(head: Uint8Array, contentType: string | undefined): string {
  const declared = byteOrderMark(head)?.encoding ?? charsetOf(contentType);
  if (declared !== undefined) return declared;
  const meta = prescanHtmlCharset(head)?.toLowerCase();
  if (meta === undefined) return 'utf-8';
  // Bytes readable as ASCII are not UTF-16; the standard reads such a page as UTF-8.
  if (
    /^(utf-16|utf-16le|utf-16be|unicodefffe|unicodefeff|csunicode|iso-10646-ucs-2|ucs-2|unicode)$/.test(
      meta,
    )
  ) {
    return 'utf-8';
  }
  return meta === 'x-user-defined' ? 'windows-1252' : meta;
}

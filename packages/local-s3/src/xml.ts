import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { malformedXml } from './errors.js';

/**
 * Request documents (Delete, CompleteMultipartUpload) are read with fast-xml-parser,
 * set so that values stay the exact strings sent: no trimming (` x` is a key), no
 * number or boolean coercion (`007`, `true` are keys), entities decoded.
 */
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: true,
  isArray: (name) => name === 'Object' || name === 'Part',
});

/** A character reference XML 1.0 does not allow (the parser would drop it silently). */
function forbiddenReference(text: string): string | undefined {
  for (const match of text.matchAll(/&#(x[0-9a-fA-F]+|[0-9]+);/g)) {
    const ref = match[1] ?? '';
    const code = ref.startsWith('x') ? Number.parseInt(ref.slice(1), 16) : Number.parseInt(ref, 10);
    const allowed =
      code === 0x9 ||
      code === 0xa ||
      code === 0xd ||
      (code >= 0x20 && code <= 0xd7ff) ||
      (code >= 0xe000 && code <= 0xfffd) ||
      (code >= 0x10000 && code <= 0x10ffff);
    if (!allowed) return match[0];
  }
  return undefined;
}

export type XmlNode = string | { readonly [name: string]: XmlNode | readonly XmlNode[] };

/** Parses a request body; anything that is not well-formed XML is MalformedXML. */
export function parseRequestXml(body: Buffer, root: string): Record<string, unknown> {
  const text = body.toString('utf8');
  if (text.trim() === '') throw malformedXml('the body is empty');
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw malformedXml(`${valid.err.msg} at line ${valid.err.line}`);
  const reference = forbiddenReference(text);
  if (reference) throw malformedXml(`character reference ${reference} is not allowed in XML 1.0`);
  const document = parser.parse(text) as Record<string, unknown>;
  const top = document[root];
  if (typeof top !== 'object' || top === null)
    throw malformedXml(`the root element is not <${root}>`);
  return top as Record<string, unknown>;
}

/** Text for an XML element: the five entities, and characters XML 1.0 cannot hold as references. */
export function escapeXml(value: string | number | boolean): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is escaped here.
  return String(value).replace(/[&<>"'\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      case "'":
        return '&apos;';
      default:
        return `&#x${c.charCodeAt(0).toString(16)};`;
    }
  });
}

/** `<Name>value</Name>`, escaped; nothing for undefined. */
export function element(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? '' : `<${name}>${escapeXml(value)}</${name}>`;
}

export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';
export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** A response document with S3's namespace on the root. */
export function document(root: string, inner: string): string {
  return `${XML_DECLARATION}<${root} xmlns="${S3_NAMESPACE}">${inner}</${root}>`;
}

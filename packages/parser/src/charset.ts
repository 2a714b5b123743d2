import { isAscii, isUtf8 } from 'node:buffer';
import { byteOrderMark, charsetOf, prescanHtmlCharset } from '@fanout/shared';
import { UndecodableInputError, UnknownCharsetError } from './errors.js';

export { WINDOWS_1252_FALLBACK } from '@fanout/shared';

/**
 * What decided a body's encoding, in the order they are tried; `fallback` when nothing
 * declared one and the bytes proved not to be UTF-8 (see `undeclaredFallback`).
 */
export type DecidedBy =
  | 'bom'
  | 'content-type'
  | 'xml-declaration'
  | 'meta'
  | 'default'
  | 'fallback';

/**
 * What the body's own declaration looks like: an XML declaration (feeds, and every text
 * format by default), or an HTML `<meta charset>` found by the HTML standard's prescan.
 */
export type Markup = 'xml' | 'html';

export interface EncodingDecision {
  /** WHATWG encoding name (`utf-8`, `windows-1252`, `shift_jis`, `utf-16le`, …). */
  readonly encoding: string;
  readonly decidedBy: DecidedBy;
  /** The label as the content type or XML declaration wrote it. */
  readonly label?: string;
  /** Length of the byte order mark at the start of the body (skipped, never decoded). */
  readonly bomBytes: number;
}

/** What to do with bytes that are invalid in the chosen encoding. */
export type InvalidBytes = 'fatal' | 'replace';

/** The first bytes looked at for a BOM and an XML declaration. */
export const SNIFF_BYTES = 1024;

export { charsetOf } from '@fanout/shared';

/**
 * The WHATWG encoding a label names (`latin1` and `us-ascii` are windows-1252, `gb2312`
 * is gbk, `utf-16` is utf-16le), or undefined when Node cannot decode it (unknown labels,
 * and the `replacement` and `x-user-defined` encodings).
 */
export function encodingForLabel(label: string): string | undefined {
  try {
    return new TextDecoder(label).encoding;
  } catch {
    return undefined;
  }
}

// Leading whitespace is allowed here even in strict mode: it only decides the decoding,
// and the XML parser still rejects it when the feed is read strictly.
const XML_DECLARATION =
  /^[\t\n\r ]*<\?xml[\t\n\r ][^>]*?encoding[\t\n\r ]*=[\t\n\r ]*(["'])([^"'>]*)\1/;

/** The `encoding` of an XML declaration at the start of `head`, read as ASCII. */
export function xmlDeclaredEncoding(head: Buffer): string | undefined {
  return XML_DECLARATION.exec(head.toString('latin1'))?.[2];
}

/**
 * Decides a body's encoding: BOM, then the HTTP `charset`, then the XML declaration's
 * `encoding` (or, for HTML, the `<meta>` the HTML standard's prescan finds), else UTF-8. A
 * declaration read as ASCII that says UTF-16 is taken as UTF-8, as the HTML standard does:
 * UTF-16 text would not have been readable as ASCII, and real UTF-16 carries a BOM (HTML's
 * `x-user-defined` is windows-1252 there too). Throws UnknownCharsetError for a label Node
 * cannot decode.
 */
export function decideEncoding(
  head: Buffer,
  contentType?: string,
  markup: Markup = 'xml',
): EncodingDecision {
  const bom = byteOrderMark(head);
  if (bom) return { encoding: bom.encoding, decidedBy: 'bom', bomBytes: bom.bytes };
  const charset = charsetOf(contentType);
  if (charset !== undefined) {
    const encoding = encodingForLabel(charset);
    if (encoding === undefined) throw new UnknownCharsetError(charset, 'content-type');
    return { encoding, decidedBy: 'content-type', label: charset, bomBytes: 0 };
  }
  const declared = markup === 'html' ? prescanHtmlCharset(head) : xmlDeclaredEncoding(head);
  if (declared !== undefined) {
    const where = markup === 'html' ? '<meta> charset' : 'XML declaration';
    const encoding =
      markup === 'html' && declared.toLowerCase() === 'x-user-defined'
        ? 'windows-1252'
        : encodingForLabel(declared);
    if (encoding === undefined) throw new UnknownCharsetError(declared, where);
    const readable = encoding === 'utf-16le' || encoding === 'utf-16be' ? 'utf-8' : encoding;
    const decidedBy = markup === 'html' ? 'meta' : 'xml-declaration';
    return { encoding: readable, decidedBy, label: declared, bomBytes: 0 };
  }
  return { encoding: 'utf-8', decidedBy: 'default', bomBytes: 0 };
}

/**
 * The rule for a body that declares no encoding (no BOM, no HTTP `charset`, no
 * declaration in the document) and whose bytes are not valid UTF-8: read it as
 * windows-1252, as browsers do for an undeclared document and feedparser does for a feed.
 * windows-1252 decodes every byte, so nothing becomes U+FFFD. Returns the decision to
 * switch to, or undefined when the rule does not apply: something declared the encoding
 * (bytes invalid in a declared encoding are an error), or the source is `strict`.
 * Every text format decodes through it (Utf8Transcoder); the outcome records its use.
 */
export function undeclaredFallback(
  decision: EncodingDecision,
  options: { readonly strict?: boolean | undefined },
): EncodingDecision | undefined {
  if (options.strict === true) return undefined;
  if (decision.decidedBy !== 'default' || decision.encoding !== 'utf-8') return undefined;
  return { encoding: 'windows-1252', decidedBy: 'fallback', bomBytes: 0 };
}

/** Bytes of the UTF-8 sequence a lead byte starts (1 for ASCII), or 0 for a byte that starts none. */
function utf8SequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/**
 * Whether the first non-ASCII byte of `bytes` is where they stop being UTF-8: then every
 * byte before the invalid one is ASCII, which reads the same in UTF-8 and windows-1252,
 * so switching to windows-1252 there decodes the body exactly as a whole.
 */
function invalidAtFirstNonAscii(bytes: Buffer): boolean {
  const first = bytes.findIndex((byte) => byte >= 0x80);
  if (first === -1) return false;
  const length = utf8SequenceLength(bytes[first] ?? 0);
  return length === 0 || !isUtf8(bytes.subarray(first, first + length));
}

const MULTI_BYTE = new Set([
  'utf-8',
  'utf-16le',
  'utf-16be',
  'shift_jis',
  'euc-jp',
  'iso-2022-jp',
  'euc-kr',
  'gbk',
  'gb18030',
  'big5',
]);

/**
 * Bytes that are always a whole character in a multi-byte encoding: never a trail byte
 * of a sequence, and they end any sequence in progress. A cut right after one leaves the
 * decoder with nothing pending, so a decoder started there reads the rest exactly.
 */
function isWholeCharacter(encoding: string, byte: number): boolean {
  switch (encoding) {
    case 'shift_jis':
    case 'big5':
      return byte < 0x40;
    case 'euc-kr':
      return byte < 0x41;
    case 'euc-jp':
      return byte < 0x80;
    case 'gbk':
    case 'gb18030':
      // Four-byte gb18030 sequences use 0x30-0x39 as their second and fourth bytes.
      return byte < 0x30 || (byte > 0x39 && byte < 0x40);
    default:
      // iso-2022-jp keeps a mode across characters; a line feed is the safest cut.
      return byte === 0x0a;
  }
}

/** End of the longest prefix of `bytes` that ends on a character boundary. */
function boundary(encoding: string, bytes: Buffer): number {
  if (!MULTI_BYTE.has(encoding)) return bytes.length;
  if (encoding === 'utf-8') {
    for (let back = 1; back <= 4 && back <= bytes.length; back += 1) {
      const byte = bytes[bytes.length - back] ?? 0;
      if ((byte & 0xc0) === 0x80) continue;
      const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
      return length > back ? bytes.length - back : bytes.length;
    }
    return bytes.length;
  }
  if (encoding === 'utf-16le' || encoding === 'utf-16be') {
    let end = bytes.length - (bytes.length % 2);
    const high = encoding === 'utf-16le' ? bytes[end - 1] : bytes[end - 2];
    if (end >= 2 && high !== undefined && high >= 0xd8 && high <= 0xdb) end -= 2;
    return end;
  }
  for (let index = bytes.length - 1; index >= 0; index -= 1) {
    if (isWholeCharacter(encoding, bytes[index] ?? 0)) return index + 1;
  }
  return 0;
}

/** Bytes held while no character boundary shows; past this the cut is made anyway. */
const MAX_CARRY_BYTES = 64 * 1024;
/** Original bytes kept to turn output offsets back into original offsets in error reports. */
const RETAINED_BYTES = 1024 * 1024;

interface Piece {
  /** Offset of the piece's first byte in the original body. */
  readonly original: number;
  /** Offset of its decoded text in the UTF-8 output. */
  readonly output: number;
  readonly outputBytes: number;
  readonly originalBytes: number;
  /** True when the piece starts on a character boundary (a fresh decoder reads it exactly). */
  readonly synced: boolean;
  readonly bytes: Buffer;
}

function countLineFeeds(bytes: Buffer): number {
  let count = 0;
  for (let at = bytes.indexOf(0x0a); at !== -1; at = bytes.indexOf(0x0a, at + 1)) count += 1;
  return count;
}

function fails(encoding: string, bytes: Buffer, flush: boolean): boolean {
  try {
    new TextDecoder(encoding, { fatal: true, ignoreBOM: true }).decode(bytes, { stream: !flush });
    return false;
  } catch {
    return true;
  }
}

/**
 * Offset in `piece` of the first byte that cannot be decoded: the smallest prefix whose
 * decoding fails shows where the problem was detected, and the bad sequence starts at the
 * last character boundary before that byte.
 */
function firstInvalidByte(encoding: string, piece: Buffer, final: boolean): number {
  let detected = piece.length;
  if (fails(encoding, piece, false)) {
    let good = 0;
    let bad = piece.length;
    while (bad - good > 1) {
      const middle = Math.floor((good + bad) / 2);
      if (fails(encoding, piece.subarray(0, middle), false)) bad = middle;
      else good = middle;
    }
    detected = bad;
  } else if (!final) {
    return piece.length;
  }
  let start = detected - 1;
  for (let step = 0; step < 8 && start > 0; step += 1) {
    if (!fails(encoding, piece.subarray(0, start), true)) return start;
    start -= 1;
  }
  return Math.max(0, start);
}

/**
 * Turns a body in any encoding Node's TextDecoder knows into UTF-8, streaming. Bytes
 * invalid in the encoding raise UndecodableInputError with the line and the byte offset
 * of the first bad byte in the original body, unless `invalidBytes` is `replace` (then
 * they become U+FFFD). Valid UTF-8 passes through untouched (it is only validated).
 * `originalOffset` turns an offset in the output back into one in the original bytes.
 */
export class Utf8Transcoder {
  decision: EncodingDecision | undefined;
  private decoder: InstanceType<typeof TextDecoder> | undefined;
  private passThrough = false;
  private consumed = 0;
  private produced = 0;
  private lineFeeds = 0;
  private carry: Buffer = Buffer.alloc(0);
  private nextSynced = true;
  private readonly pieces: Piece[] = [];
  private retained = 0;
  /** Every byte passed through so far was ASCII (so a switch to the fallback is exact). */
  private asciiSoFar = true;
  /** Output bytes that were ASCII passed through before a switch to the fallback. */
  private asciiPrefixBytes = 0;

  constructor(
    private readonly contentType: string | undefined,
    private readonly invalidBytes: InvalidBytes,
    private readonly markup: Markup = 'xml',
    /** A `strict` source gets no windows-1252 fallback (see `undeclaredFallback`). */
    private readonly strict = false,
  ) {}

  /** True when the body was read as windows-1252 by `undeclaredFallback`. */
  get fellBack(): boolean {
    return this.decision?.decidedBy === 'fallback';
  }

  /** UTF-8 output bytes produced so far. */
  get outputBytes(): number {
    return this.produced;
  }

  async *transcode(input: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
    const head: Buffer[] = [];
    let headBytes = 0;
    for await (const chunk of input) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      if (this.decision === undefined) {
        head.push(bytes);
        headBytes += bytes.length;
        if (headBytes < SNIFF_BYTES) continue;
        const out = this.start(Buffer.concat(head, headBytes));
        if (out.length > 0) yield out;
        continue;
      }
      const out = this.push(bytes, false);
      if (out.length > 0) yield out;
    }
    if (this.decision === undefined) {
      const out = this.start(Buffer.concat(head, headBytes));
      if (out.length > 0) yield out;
    }
    const last = this.push(Buffer.alloc(0), true);
    if (last.length > 0) yield last;
  }

  /**
   * The offset in the original bytes of an offset in the UTF-8 output: exact for UTF-8
   * bodies, and for other encodings within the last MiB read; else undefined.
   */
  originalOffset(outputOffset: number): number | undefined {
    const decision = this.decision;
    if (decision === undefined) return outputOffset;
    if (this.passThrough) return outputOffset + decision.bomBytes;
    if (outputOffset <= this.asciiPrefixBytes) return outputOffset;
    let low = 0;
    let high = this.pieces.length - 1;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if ((this.pieces[middle]?.output ?? 0) <= outputOffset) low = middle;
      else high = middle - 1;
    }
    const piece = this.pieces[low];
    if (piece === undefined) return outputOffset === 0 ? decision.bomBytes : undefined;
    const wanted = outputOffset - piece.output;
    // Before the first piece still held: its bytes are gone, so no exact answer.
    if (wanted < 0) return undefined;
    if (wanted === 0) return piece.original;
    if (wanted >= piece.outputBytes) return piece.original + piece.originalBytes;
    if (!piece.synced) return undefined;
    const bytes = piece.bytes;
    const decodedBytes = (length: number) =>
      Buffer.byteLength(
        new TextDecoder(decision.encoding, { ignoreBOM: true }).decode(bytes.subarray(0, length), {
          stream: true,
        }),
        'utf8',
      );
    let good = 0;
    let bad = bytes.length;
    while (bad - good > 1) {
      const middle = Math.floor((good + bad) / 2);
      if (decodedBytes(middle) >= wanted) bad = middle;
      else good = middle;
    }
    return piece.original + bad;
  }

  private start(head: Buffer): Buffer {
    const decision = decideEncoding(head, this.contentType, this.markup);
    this.decision = decision;
    this.passThrough = decision.encoding === 'utf-8' && this.invalidBytes === 'fatal';
    if (!this.passThrough) {
      this.decoder = new TextDecoder(decision.encoding, {
        fatal: this.invalidBytes === 'fatal',
        ignoreBOM: true,
      });
    }
    this.consumed = decision.bomBytes;
    return this.push(head.subarray(decision.bomBytes), false);
  }

  private push(bytes: Buffer, final: boolean): Buffer {
    const encoding = this.decision?.encoding ?? 'utf-8';
    const all = this.carry.length > 0 ? Buffer.concat([this.carry, bytes]) : bytes;
    let cut = final ? all.length : boundary(encoding, all);
    let synced = true;
    if (!final && cut === 0 && all.length > MAX_CARRY_BYTES) {
      cut = all.length;
      synced = false;
    }
    this.carry = Buffer.from(all.subarray(cut));
    if (cut === 0 && !(final && !this.passThrough)) return Buffer.alloc(0);
    const out = this.decode(all.subarray(0, cut), final);
    const piece: Piece = {
      original: this.consumed,
      output: this.produced,
      outputBytes: out.length,
      originalBytes: cut,
      synced: this.nextSynced,
      bytes: this.passThrough ? Buffer.alloc(0) : Buffer.from(all.subarray(0, cut)),
    };
    this.nextSynced = synced;
    if (!this.passThrough) this.retain(piece);
    this.consumed += cut;
    this.produced += out.length;
    this.lineFeeds += countLineFeeds(out);
    return out;
  }

  /** Keeps the pieces of the last RETAINED_BYTES of original bytes (at least the newest). */
  private retain(piece: Piece): void {
    this.pieces.push(piece);
    this.retained += piece.bytes.length;
    while (this.retained > RETAINED_BYTES && this.pieces.length > 1) {
      this.retained -= this.pieces.shift()?.bytes.length ?? 0;
    }
  }

  private decode(piece: Buffer, final: boolean): Buffer {
    if (this.passThrough) {
      if (isUtf8(piece)) {
        if (this.asciiSoFar && !isAscii(piece)) this.asciiSoFar = false;
        return piece;
      }
      const fallback = this.decision && undeclaredFallback(this.decision, { strict: this.strict });
      if (fallback === undefined || !this.asciiSoFar || !invalidAtFirstNonAscii(piece)) {
        throw this.invalid(piece, final);
      }
      // All that came before was ASCII: from here on the body is read as windows-1252.
      this.decision = fallback;
      this.passThrough = false;
      this.asciiPrefixBytes = this.produced;
      this.decoder = new TextDecoder(fallback.encoding, { ignoreBOM: true });
    }
    try {
      return Buffer.from(this.decoder?.decode(piece, { stream: !final }) ?? '', 'utf8');
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA') {
        throw this.invalid(piece, final);
      }
      throw error;
    }
  }

  private invalid(piece: Buffer, final: boolean): UndecodableInputError {
    const decision: EncodingDecision = this.decision ?? {
      encoding: 'utf-8',
      decidedBy: 'default',
      bomBytes: 0,
    };
    const at = firstInvalidByte(decision.encoding, piece, final);
    const good = new TextDecoder(decision.encoding, { ignoreBOM: true }).decode(
      piece.subarray(0, at),
    );
    const shown = [...piece.subarray(at, at + 4)]
      .map((byte) => byte.toString(16).padStart(2, '0'))
      .join(' ');
    const fallback = undeclaredFallback(decision, { strict: this.strict });
    const why =
      this.passThrough && fallback !== undefined
        ? '; not read as windows-1252 either: UTF-8 text with non-ASCII characters comes before it, so the body mixes encodings'
        : this.passThrough && decision.decidedBy === 'default'
          ? '; strict: no windows-1252 fallback for a body that declares no charset'
          : '';
    const problem = `cannot decode the bytes ${shown}${
      this.nextSynced ? '' : ' (position approximate: no character boundary within 64 KiB)'
    }${why}; set options.invalidBytes to "replace" to accept them as U+FFFD`;
    return new UndecodableInputError(decision.encoding, decision.decidedBy, problem, {
      line: this.lineFeeds + countLineFeeds(Buffer.from(good, 'utf8')) + 1,
      byteOffset: this.consumed + at,
    });
  }
}

import { HEX, isDigit, SIMPLE_ESCAPE } from './json-validate.js';

/** Where a JSON text stops being a prefix of any valid document. */
export interface JsonSyntaxProblem {
  /** 1-based; a line ends at LF. */
  readonly line: number;
  /** 0-based offset of the offending byte (the first byte of its character), or the length at a premature end. */
  readonly byteOffset: number;
  /** What is there: a quoted character, `byte 0x..` for a control byte, or `end of input`. */
  readonly found: string;
  /** The character is whitespace JSON does not allow (`\v`, `\f`, U+00A0, …), found in strict mode. */
  readonly whitespace: boolean;
}

// Scanner states: what the next byte may be.
const VALUE = 0; // a value
const FIRST_VALUE = 1; // a value or `]` (just after `[`)
const FIRST_KEY = 2; // a key or `}` (just after `{`)
const KEY = 3; // a key (after `,` in an object)
const COLON = 4;
const AFTER_VALUE = 5; // `,` or the container's end; only whitespace at depth 0
const STRING = 6;
const ESCAPE = 7;
const UNICODE = 8; // hex digits of `\uXXXX`
const MINUS = 9; // first digit after `-`
const ZERO = 10; // `0` read: `.`, `e` or the end of the number
const INTEGER = 11;
const POINT = 12; // first digit after `.`
const FRACTION = 13;
const EXPONENT = 14; // sign or first digit after `e`
const EXPONENT_SIGN = 15; // first digit after the sign
const EXPONENT_DIGITS = 16;
const LITERAL = 17; // the rest of `true`, `false` or `null`
const WIDE = 18; // the rest of a multi-byte character where whitespace may stand
const FAILED = 19; // a problem was found; its character is still being read for `found`

const OBJECT = 1;
const ARRAY = 2;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LINE_FEED = 0x0a;

/**
 * Whitespace as stream-json reads it: JavaScript's `\s`. Besides JSON's four, `\v`, `\f` and
 * the Unicode spaces (multi-byte, checked once read whole) are accepted between tokens, so
 * the scanner fails where stream-json does, not earlier. Strict mode allows JSON's four only.
 */
const JS_SPACE = new Uint8Array(256);
for (const c of ' \t\n\r\v\f') JS_SPACE[c.charCodeAt(0)] = 1;
const JSON_SPACE = new Uint8Array(256);
for (const c of ' \t\n\r') JSON_SPACE[c.charCodeAt(0)] = 1;
const isUnicodeSpace = (c: number) =>
  c === 0xa0 ||
  c === 0x1680 ||
  (c >= 0x2000 && c <= 0x200a) ||
  c === 0x2028 ||
  c === 0x2029 ||
  c === 0x202f ||
  c === 0x205f ||
  c === 0x3000 ||
  c === 0xfeff;
const codePoint = (bytes: readonly number[]) =>
  Buffer.from(bytes).toString('utf8').codePointAt(0) ?? 0;
const isJsSpace = (bytes: readonly number[]) =>
  bytes.length === 1 ? JS_SPACE[bytes[0] ?? 0] === 1 : isUnicodeSpace(codePoint(bytes));
const LITERALS = ['true', 'false', 'null'].map((word) => Buffer.from(word, 'latin1'));
/** Bytes that follow a lead byte of UTF-8, from the lead byte; 0 for ASCII (and stray bytes). */
const trailBytes = (byte: number) => (byte >= 0xf0 ? 3 : byte >= 0xe0 ? 2 : byte >= 0xc0 ? 1 : 0);

function describe(bytes: readonly number[]): string {
  const [first = 0] = bytes;
  if (first < 0x20 || first === 0x7f) return `byte 0x${first.toString(16).padStart(2, '0')}`;
  const character = Buffer.from(bytes).toString('utf8');
  // Unicode spaces are invisible when quoted: name them by code point.
  const code = character.codePointAt(0) ?? 0;
  if (isUnicodeSpace(code)) return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return JSON.stringify(character);
}

/**
 * Reads a JSON text (UTF-8 bytes, in chunks of any size) with the grammar stream-json applies,
 * building nothing, and remembers the first byte at which the text stops being valid: the
 * exact location of a syntax error, which stream-json does not report. Memory is the state
 * plus one byte per open container.
 */
export class JsonSyntaxScanner {
  private readonly space: Uint8Array;
  private state = VALUE;
  private stack = new Uint8Array(64);
  private depth = 0;
  private line = 1;
  private offset = 0;
  private started = false;
  private literal: Buffer = LITERALS[0] as Buffer;
  private literalAt = 0;
  private hexLeft = 0;
  private isKey = false;
  /** The character being read in WIDE (where it began) or FAILED (to name it in `found`). */
  private wide: number[] = [];
  private wideLeft = 0;
  private wideReturn = VALUE;
  private wideLine = 1;
  private wideOffset = 0;
  private problemAt = { line: 1, byteOffset: 0 };
  private found: JsonSyntaxProblem | undefined;

  /** `strict`: only JSON's four whitespace characters, where stream-json accepts JavaScript's `\s`. */
  constructor(private readonly strict = false) {
    this.space = strict ? JSON_SPACE : JS_SPACE;
  }

  /** True once anything but whitespace was read. */
  get sawValue(): boolean {
    return this.started;
  }

  /**
   * The first problem, once found and its character read whole (a premature end, and a
   * character cut by the end, only after `end()`).
   */
  get problem(): JsonSyntaxProblem | undefined {
    return this.found;
  }

  feed(bytes: Uint8Array): void {
    const length = bytes.length;
    let at = 0;
    while (at < length) {
      if (this.state === FAILED) {
        if (this.found !== undefined) return;
        this.wide.push(bytes[at] as number);
        at += 1;
        this.wideLeft -= 1;
        if (this.wideLeft === 0) this.settle();
        continue;
      }
      // Runs of string bytes, whitespace and digits make up most of a document: tight loops.
      const state = this.state;
      let byte = bytes[at] as number;
      if (state === STRING) {
        while (byte !== QUOTE && byte !== BACKSLASH && byte >= 0x20 && ++at < length) {
          byte = bytes[at] as number;
        }
      } else if (state <= AFTER_VALUE) {
        while (this.space[byte] === 1) {
          if (byte === LINE_FEED) this.line += 1;
          if (++at === length) break;
          byte = bytes[at] as number;
        }
      } else if (state === INTEGER || state === FRACTION || state === EXPONENT_DIGITS) {
        while (isDigit(byte) && ++at < length) byte = bytes[at] as number;
      }
      if (at === length) break;
      if (this.step(bytes[at] as number, at)) at += 1;
    }
    this.offset += length;
  }

  /** The input is complete: a document still open is a problem at its end. */
  end(): void {
    if (this.state === FAILED) {
      if (this.found === undefined) this.settle();
      return;
    }
    if (this.state === WIDE) {
      this.failAt(this.wideLine, this.wideOffset, this.wide, 0);
      return;
    }
    const complete =
      this.depth === 0 &&
      (this.state === AFTER_VALUE ||
        this.state === ZERO ||
        this.state === INTEGER ||
        this.state === FRACTION ||
        this.state === EXPONENT_DIGITS);
    if (complete || !this.started) return;
    this.found = {
      line: this.line,
      byteOffset: this.offset,
      found: 'end of input',
      whitespace: false,
    };
    this.state = FAILED;
  }

  /** Handles `byte` at `bytes[at]`; false when the same byte must be read again in the new state. */
  private step(byte: number, at: number): boolean {
    switch (this.state) {
      case VALUE:
      case FIRST_VALUE:
      case FIRST_KEY:
      case KEY:
      case COLON:
      case AFTER_VALUE:
        if (this.space[byte] === 1) {
          if (byte === LINE_FEED) this.line += 1;
          return true;
        }
        if (byte >= 0xc0) {
          this.wide = [byte];
          this.wideLeft = trailBytes(byte);
          this.wideReturn = this.state;
          this.wideLine = this.line;
          this.wideOffset = this.offset + at;
          this.state = WIDE;
          return true;
        }
        return this.token(byte, at);
      case WIDE:
        this.wide.push(byte);
        this.wideLeft -= 1;
        if (this.wideLeft > 0) return true;
        if (!this.strict && isUnicodeSpace(codePoint(this.wide))) {
          this.state = this.wideReturn;
        } else {
          this.failAt(this.wideLine, this.wideOffset, this.wide, 0);
        }
        return true;
      case STRING:
        if (byte === QUOTE) {
          this.state = this.isKey ? COLON : AFTER_VALUE;
          return true;
        }
        if (byte === BACKSLASH) {
          this.state = ESCAPE;
          return true;
        }
        return this.fail(at, byte);
      case ESCAPE:
        if (SIMPLE_ESCAPE[byte] === 1) {
          this.state = STRING;
          return true;
        }
        if (byte === 0x75) {
          this.state = UNICODE;
          this.hexLeft = 4;
          return true;
        }
        return this.fail(at, byte);
      case UNICODE:
        if (HEX[byte] !== 1) return this.fail(at, byte);
        this.hexLeft -= 1;
        if (this.hexLeft === 0) this.state = STRING;
        return true;
      case MINUS:
        if (byte === 0x30) this.state = ZERO;
        else if (isDigit(byte)) this.state = INTEGER;
        else return this.fail(at, byte);
        return true;
      case INTEGER:
        if (isDigit(byte)) return true;
        return this.afterDigits(byte, true);
      case ZERO:
        return this.afterDigits(byte, true);
      case POINT:
        return this.digit(byte, at, FRACTION);
      case FRACTION:
        if (isDigit(byte)) return true;
        return this.afterDigits(byte, false);
      case EXPONENT:
        if (byte === 0x2b || byte === 0x2d) {
          this.state = EXPONENT_SIGN;
          return true;
        }
        return this.digit(byte, at, EXPONENT_DIGITS);
      case EXPONENT_SIGN:
        return this.digit(byte, at, EXPONENT_DIGITS);
      case EXPONENT_DIGITS:
        if (isDigit(byte)) return true;
        this.state = AFTER_VALUE;
        return false;
      case LITERAL:
        if (byte !== this.literal[this.literalAt]) return this.fail(at, byte);
        this.literalAt += 1;
        if (this.literalAt === this.literal.length) this.state = AFTER_VALUE;
        return true;
      default:
        return true;
    }
  }

  /** A digit must come here; it moves on to `next`. */
  private digit(byte: number, at: number, next: number): boolean {
    if (!isDigit(byte)) return this.fail(at, byte);
    this.state = next;
    return true;
  }

  /** A number's digits ended: `.` or `e` may go on with it, else the byte follows the number. */
  private afterDigits(byte: number, pointAllowed: boolean): boolean {
    if (pointAllowed && byte === 0x2e) {
      this.state = POINT;
      return true;
    }
    if (byte === 0x65 || byte === 0x45) {
      this.state = EXPONENT;
      return true;
    }
    this.state = AFTER_VALUE;
    return false;
  }

  /** A structural byte where a token may start (whitespace already skipped). */
  private token(byte: number, at: number): boolean {
    const state = this.state;
    if (state === AFTER_VALUE) {
      if (this.depth === 0) return this.fail(at, byte);
      const container = this.stack[this.depth - 1];
      if (byte === 0x2c) {
        this.state = container === OBJECT ? KEY : VALUE;
        return true;
      }
      if (byte === (container === OBJECT ? 0x7d : 0x5d)) {
        this.depth -= 1;
        return true;
      }
      return this.fail(at, byte);
    }
    if (state === COLON) {
      if (byte !== 0x3a) return this.fail(at, byte);
      this.state = VALUE;
      return true;
    }
    if (state === FIRST_KEY || state === KEY) {
      if (byte === QUOTE) {
        this.state = STRING;
        this.isKey = true;
        return true;
      }
      if (byte === 0x7d && state === FIRST_KEY) {
        this.depth -= 1;
        this.state = AFTER_VALUE;
        return true;
      }
      return this.fail(at, byte);
    }
    // A value (or `]` just after `[`).
    this.started = true;
    if (byte === 0x5d && state === FIRST_VALUE) {
      this.depth -= 1;
      this.state = AFTER_VALUE;
      return true;
    }
    if (byte === QUOTE) {
      this.state = STRING;
      this.isKey = false;
    } else if (byte === 0x7b || byte === 0x5b) {
      if (this.depth === this.stack.length) {
        const grown = new Uint8Array(this.stack.length * 2);
        grown.set(this.stack);
        this.stack = grown;
      }
      this.stack[this.depth] = byte === 0x7b ? OBJECT : ARRAY;
      this.depth += 1;
      this.state = byte === 0x7b ? FIRST_KEY : FIRST_VALUE;
    } else if (byte === 0x2d) {
      this.state = MINUS;
    } else if (byte === 0x30) {
      this.state = ZERO;
    } else if (isDigit(byte)) {
      this.state = INTEGER;
    } else {
      const literal = LITERALS.find((word) => word[0] === byte);
      if (literal === undefined) return this.fail(at, byte);
      this.literal = literal;
      this.literalAt = 1;
      this.state = LITERAL;
    }
    return true;
  }

  /** The byte at `bytes[at]` is the problem. */
  private fail(at: number, byte: number): boolean {
    this.failAt(this.line, this.offset + at, [byte], trailBytes(byte));
    return true;
  }

  /** The problem is the character starting at `byteOffset`; `left` of its bytes are still to come. */
  private failAt(line: number, byteOffset: number, bytes: number[], left: number): void {
    this.problemAt = { line, byteOffset };
    this.started = true;
    this.wide = bytes;
    this.wideLeft = left;
    this.state = FAILED;
    if (left === 0) this.settle();
  }

  private isJsonSpace(): boolean {
    return this.wide.length === 1 && JSON_SPACE[this.wide[0] ?? 0] === 1;
  }

  private settle(): void {
    this.found = {
      ...this.problemAt,
      found: describe(this.wide),
      whitespace: this.strict && this.wideLeft <= 0 && isJsSpace(this.wide) && !this.isJsonSpace(),
    };
  }
}

import { HEX, isDigit, MAX_JSON_DEPTH, SIMPLE_ESCAPE } from './json-validate.js';

/** Where a JSON text stops being a prefix of any valid document, and why. */
export interface JsonSyntaxProblem {
  /** 1-based; a line ends at LF. */
  readonly line: number;
  /** 0-based offset of the offending byte (the first byte of its character), or the length at a premature end. */
  readonly byteOffset: number;
  /** What is there: a quoted character, `byte 0x..` for a control byte, or `end of input`. */
  readonly found: string;
  /** What the grammar wanted there (`expected a value`), or the limit passed. */
  readonly reason: string;
  /** The character is whitespace JSON does not allow (`\v`, `\f`, U+00A0, …), found in strict mode. */
  readonly whitespace: boolean;
}

/** Which values of the document are records, and how large one may be. */
export interface RecordCapture {
  /**
   * Path to the value holding the records, one component per level: an object key, or an
   * array index as decimal text. Empty: the root. An array there gives its elements, any
   * other value is one record.
   */
  readonly path: readonly string[];
  readonly maxRecordBytes: number;
}

/**
 * Records completed so far, as compact JSON (no whitespace between tokens): record `i` is
 * `bytes[starts[i], ends[i])`.
 */
export interface CapturedRecords {
  readonly bytes: Buffer;
  readonly starts: number[];
  readonly ends: number[];
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

// Where the records are: still looking for the path's value, reading the elements of the
// array found there, reading the one value found there, or past it.
const SEEKING = 0;
const ELEMENTS = 1;
const SINGLE = 2;
const DONE = 3;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LINE_FEED = 0x0a;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;

/** A key longer than this (as written) is never compared with the records path. */
const MAX_PATH_KEY_BYTES = 4096;

/**
 * Whitespace as the `json` format reads it by default: JavaScript's `\s` (what stream-json,
 * its earlier reader, accepted). Besides JSON's four, `\v`, `\f` and the Unicode spaces
 * (multi-byte, checked once read whole) are accepted between tokens. Strict mode allows
 * JSON's four only. Whitespace between tokens is never part of a record.
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

const DEPTH_REASON = `nesting deeper than ${MAX_JSON_DEPTH} levels (the parser's limit: most JSON readers, Python's among them, stop near it)`;

/**
 * Reads a JSON text (UTF-8 bytes, in chunks of any size) byte by byte, without recursion and
 * building nothing, and remembers the first byte at which the text stops being valid: the
 * exact location of a syntax error. Memory is the state plus one byte per open container,
 * and nesting is limited to MAX_JSON_DEPTH.
 *
 * With a `capture`, it also copies out the records (see RecordCapture) as they pass: each
 * one's bytes exactly as written (strings with their escapes, numbers as their text, keys in
 * their order, duplicates and `__proto__` included), less the whitespace between tokens.
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
  private problemReason = '';
  private found: JsonSyntaxProblem | undefined;

  // Finding the records.
  private target = SEEKING;
  /** Open containers (from the root) that lie on the records path. */
  private chain = 0;
  /** The value about to start is on the path (its key matched). */
  private keyOnPath = false;
  /** Next element index of the array on the path at each depth. */
  private readonly indexAt: number[] = [];
  private keyBytes: number[] | undefined;
  private keyFrom = 0;
  private elementsDepth = 0;

  // Copying them out.
  private chunk: Uint8Array = new Uint8Array(0);
  private capturing = false;
  /** The depth at which the record being copied ends (that of its parent). */
  private captureDepth = 0;
  private copyFrom = 0;
  private out = Buffer.allocUnsafe(0);
  private used = 0;
  private recordStart = 0;
  private starts: number[] = [];
  private ends: number[] = [];
  private completed = 0;
  private oversized = false;

  /**
   * `strict`: only JSON's four whitespace characters. `capture`: also copy out the records.
   */
  constructor(
    private readonly strict = false,
    private readonly capture?: RecordCapture,
  ) {
    this.space = strict ? JSON_SPACE : JS_SPACE;
    if (capture === undefined) this.target = DONE;
  }

  /** True once anything but whitespace was read. */
  get sawValue(): boolean {
    return this.started;
  }

  /** The value at the records path was found (with a capture). */
  get foundRecords(): boolean {
    return this.target !== SEEKING;
  }

  /** Records completed so far, taken or not: the index of the record being read. */
  get recordsRead(): number {
    return this.completed;
  }

  /** A record passed `maxRecordBytes`: the scanner stopped copying it. */
  get recordTooLarge(): boolean {
    return this.oversized;
  }

  /**
   * The first problem, once found and its character read whole (a premature end, and a
   * character cut by the end, only after `end()`).
   */
  get problem(): JsonSyntaxProblem | undefined {
    return this.found;
  }

  /**
   * The records completed since the last call (undefined when none). The record still being
   * read moves to a buffer of its own, so the bytes returned are never written again.
   */
  takeRecords(): CapturedRecords | undefined {
    if (this.starts.length === 0) return undefined;
    const taken = { bytes: this.out, starts: this.starts, ends: this.ends };
    const partial = this.capturing ? this.used - this.recordStart : 0;
    const next = Buffer.allocUnsafe(Math.max(64 * 1024, partial * 2));
    if (partial > 0) this.out.copy(next, 0, this.recordStart, this.used);
    this.out = next;
    this.used = partial;
    this.recordStart = 0;
    this.starts = [];
    this.ends = [];
    return taken;
  }

  feed(bytes: Uint8Array): void {
    const length = bytes.length;
    this.chunk = bytes;
    if (this.capturing) this.copyFrom = 0;
    if (this.keyBytes !== undefined) this.keyFrom = 0;
    let at = 0;
    while (at < length) {
      if (this.state === FAILED) {
        if (this.found !== undefined) break;
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
        if (this.space[byte] === 1) {
          const from = at;
          while (this.space[byte] === 1) {
            if (byte === LINE_FEED) this.line += 1;
            if (++at === length) break;
            byte = bytes[at] as number;
          }
          if (this.capturing) {
            this.copy(from);
            this.copyFrom = at;
          }
        }
      } else if (state === INTEGER || state === FRACTION || state === EXPONENT_DIGITS) {
        while (isDigit(byte) && ++at < length) byte = bytes[at] as number;
      }
      if (at === length) break;
      const consumed = this.step(bytes[at] as number, at);
      if (this.capturing && this.state === AFTER_VALUE && this.depth === this.captureDepth) {
        this.endRecord(consumed ? at + 1 : at);
      }
      if (consumed) at += 1;
    }
    if (this.capturing && this.state !== WIDE && this.state !== FAILED) this.copy(length);
    if (this.keyBytes !== undefined) this.collectKey(length);
    this.offset += length;
  }

  /** The input is complete: a document still open is a problem at its end. */
  end(): void {
    if (this.state === FAILED) {
      if (this.found === undefined) this.settle();
      return;
    }
    if (this.state === WIDE) {
      this.problemReason = this.expectation(this.wideReturn);
      this.failAt(this.wideLine, this.wideOffset, this.wide, 0);
      return;
    }
    const numberEnds =
      this.state === ZERO ||
      this.state === INTEGER ||
      this.state === FRACTION ||
      this.state === EXPONENT_DIGITS;
    const complete = this.depth === 0 && (this.state === AFTER_VALUE || numberEnds);
    if (complete && numberEnds && this.capturing) this.endRecord(this.chunk.length);
    if (complete || !this.started) return;
    this.found = {
      line: this.line,
      byteOffset: this.offset,
      found: 'end of input',
      reason: this.expectation(this.state),
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
          if (this.capturing) this.copy(at);
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
          // Whitespace: not part of a record.
          this.copyFrom = at + 1;
        } else {
          this.problemReason = this.expectation(this.wideReturn);
          this.failAt(this.wideLine, this.wideOffset, this.wide, 0);
        }
        return true;
      case STRING:
        if (byte === QUOTE) {
          if (this.isKey) {
            this.state = COLON;
            if (this.keyBytes !== undefined) this.keyEnd(at);
          } else {
            this.state = AFTER_VALUE;
          }
          return true;
        }
        if (byte === BACKSLASH) {
          this.state = ESCAPE;
          return true;
        }
        return this.fail(at, byte, 'a control character must be escaped in a string');
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
        this.close();
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
        if (this.target === SEEKING && this.depth === this.chain) this.keyStart(at);
        return true;
      }
      if (byte === 0x7d && state === FIRST_KEY) {
        this.close();
        this.state = AFTER_VALUE;
        return true;
      }
      return this.fail(at, byte);
    }
    // A value (or `]` just after `[`).
    this.started = true;
    if (byte === 0x5d && state === FIRST_VALUE) {
      this.close();
      this.state = AFTER_VALUE;
      return true;
    }
    const opens = byte === OPEN_BRACE || byte === OPEN_BRACKET;
    if (opens && this.depth === MAX_JSON_DEPTH) return this.fail(at, byte, DEPTH_REASON);
    const literal = LITERALS.find((word) => word[0] === byte);
    if (!opens && byte !== QUOTE && byte !== 0x2d && !isDigit(byte) && literal === undefined) {
      return this.fail(at, byte);
    }
    if (this.target !== DONE) this.valueStart(byte, at);
    if (byte === QUOTE) {
      this.state = STRING;
      this.isKey = false;
    } else if (opens) {
      if (this.depth === this.stack.length) {
        const grown = new Uint8Array(this.stack.length * 2);
        grown.set(this.stack);
        this.stack = grown;
      }
      this.stack[this.depth] = byte === OPEN_BRACE ? OBJECT : ARRAY;
      this.depth += 1;
      this.state = byte === OPEN_BRACE ? FIRST_KEY : FIRST_VALUE;
    } else if (byte === 0x2d) {
      this.state = MINUS;
    } else if (byte === 0x30) {
      this.state = ZERO;
    } else if (isDigit(byte)) {
      this.state = INTEGER;
    } else if (literal !== undefined) {
      this.literal = literal;
      this.literalAt = 1;
      this.state = LITERAL;
    }
    return true;
  }

  /** The container at the top of the stack ends. */
  private close(): void {
    if (this.target === ELEMENTS && this.depth === this.elementsDepth) this.target = DONE;
    if (this.chain >= this.depth) this.chain = this.depth - 1;
    this.depth -= 1;
  }

  /** A value begins at `at`, at the current depth: is it on the records path, or a record? */
  private valueStart(byte: number, at: number): void {
    const depth = this.depth;
    if (this.target === ELEMENTS) {
      if (depth === this.elementsDepth) this.startRecord(at);
      return;
    }
    if (this.target !== SEEKING) return;
    const path = this.capture?.path ?? [];
    let onPath = depth === 0;
    if (depth > 0 && depth === this.chain) {
      if (this.stack[depth - 1] === ARRAY) {
        const index = this.indexAt[depth] ?? 0;
        onPath = String(index) === path[depth - 1];
        this.indexAt[depth] = index + 1;
      } else {
        onPath = this.keyOnPath;
      }
    }
    this.keyOnPath = false;
    if (!onPath) return;
    if (depth === path.length) {
      if (byte === OPEN_BRACKET) {
        this.target = ELEMENTS;
        this.elementsDepth = depth + 1;
      } else {
        this.target = SINGLE;
        this.startRecord(at);
      }
      return;
    }
    if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      this.chain = depth + 1;
      this.indexAt[depth + 1] = 0;
    }
  }

  private keyStart(at: number): void {
    const path = this.capture?.path ?? [];
    if (this.depth > path.length) return;
    this.keyBytes = [];
    this.keyFrom = at + 1;
  }

  private collectKey(upTo: number): void {
    const keyBytes = this.keyBytes;
    if (keyBytes === undefined) return;
    for (let i = this.keyFrom; i < upTo && keyBytes.length <= MAX_PATH_KEY_BYTES; i += 1) {
      keyBytes.push(this.chunk[i] as number);
    }
    this.keyFrom = upTo;
  }

  /** The key that started at keyStart ends at `at` (its closing quote). */
  private keyEnd(at: number): void {
    this.collectKey(at);
    const keyBytes = this.keyBytes ?? [];
    this.keyBytes = undefined;
    if (keyBytes.length > MAX_PATH_KEY_BYTES) return;
    // The scanner has checked the key's escapes: JSON.parse decodes it.
    const key = JSON.parse(`"${Buffer.from(keyBytes).toString('utf8')}"`) as string;
    this.keyOnPath = key === this.capture?.path[this.depth - 1];
  }

  private startRecord(at: number): void {
    this.capturing = true;
    this.captureDepth = this.depth;
    this.recordStart = this.used;
    this.copyFrom = at;
  }

  private endRecord(end: number): void {
    this.copy(end);
    this.capturing = false;
    this.starts.push(this.recordStart);
    this.ends.push(this.used);
    this.completed += 1;
    if (this.target === SINGLE) this.target = DONE;
  }

  /** Copies the record's bytes from `copyFrom` up to `upTo` of the current chunk. */
  private copy(upTo: number): void {
    const from = this.copyFrom;
    this.copyFrom = upTo;
    if (upTo <= from || this.oversized) return;
    const bytes = upTo - from;
    if (this.used - this.recordStart + bytes > (this.capture?.maxRecordBytes ?? 0)) {
      this.oversized = true;
      return;
    }
    if (this.used + bytes > this.out.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.used + bytes, 64 * 1024));
      this.out.copy(grown, 0, 0, this.used);
      this.out = grown;
    }
    this.out.set(this.chunk.subarray(from, upTo), this.used);
    this.used += bytes;
  }

  /** What the grammar wanted in `state`, for a problem's reason. */
  private expectation(state: number): string {
    const container = this.depth > 0 ? this.stack[this.depth - 1] : 0;
    switch (state) {
      case VALUE:
        return 'expected a value';
      case FIRST_VALUE:
        return 'expected a value or "]"';
      case FIRST_KEY:
        return 'expected a key or "}"';
      case KEY:
        return 'expected a key (a string)';
      case COLON:
        return 'expected ":"';
      case AFTER_VALUE:
        if (container === 0) return 'expected the end of the document';
        return container === OBJECT ? 'expected "," or "}"' : 'expected "," or "]"';
      case STRING:
        return 'expected the end of the string';
      case ESCAPE:
        return 'expected an escape character (one of "\\/bfnrtu)';
      case UNICODE:
        return 'expected a hex digit';
      case LITERAL:
        return `expected ${JSON.stringify(this.literal.toString('latin1'))}`;
      case ZERO:
      case INTEGER:
      case FRACTION:
      case EXPONENT_DIGITS:
        return 'expected the end of the number';
      default:
        return 'expected a digit';
    }
  }

  /** The byte at `bytes[at]` is the problem. */
  private fail(at: number, byte: number, reason?: string): boolean {
    this.problemReason = reason ?? this.expectation(this.state);
    this.failAt(this.line, this.offset + at, [byte], trailBytes(byte));
    return true;
  }

  /** The problem is the character starting at `byteOffset`; `left` of its bytes are still to come. */
  private failAt(line: number, byteOffset: number, bytes: number[], left: number): void {
    this.problemAt = { line, byteOffset };
    this.started = true;
    this.capturing = false;
    this.wide = bytes;
    this.wideLeft = left;
    this.state = FAILED;
    if (left === 0) this.settle();
  }

  private isJsonSpace(): boolean {
    return this.wide.length === 1 && JSON_SPACE[this.wide[0] ?? 0] === 1;
  }

  private settle(): void {
    const whitespace =
      this.strict && this.wideLeft <= 0 && isJsSpace(this.wide) && !this.isJsonSpace();
    this.found = {
      ...this.problemAt,
      found: describe(this.wide),
      reason: whitespace ? 'whitespace JSON does not allow (strict)' : this.problemReason,
      whitespace,
    };
  }
}

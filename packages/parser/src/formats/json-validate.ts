const SPACE = 0x20;
const TAB = 0x09;
const LINE_FEED = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const LOWER_U = 0x75;

/** Escapes JSON allows after a backslash: `" \ / b f n r t` (and `u`, handled apart). */
export const SIMPLE_ESCAPE = new Uint8Array(256);
for (const c of '"\\/bfnrt') SIMPLE_ESCAPE[c.charCodeAt(0)] = 1;
export const HEX = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;

const isWhitespace = (byte: number) =>
  byte === SPACE || byte === TAB || byte === LINE_FEED || byte === CARRIAGE_RETURN;
export const isDigit = (byte: number) => byte >= ZERO && byte <= NINE;

/**
 * The deepest nesting of arrays and objects a record may have. Python's `json` module, which
 * many readers of the output use, stops near 1,000 levels (its recursion limit); the parser
 * reads without recursion, so the limit is a promise about what it writes, not its own limit.
 */
export const MAX_JSON_DEPTH = 1000;
/** Open containers, innermost last: 1 = object, 2 = array. Shared: the check is synchronous. */
const stack = new Uint8Array(MAX_JSON_DEPTH);

/** What `scanJsonValue` found. */
export const JSON_INVALID = 0;
/** One JSON value with no whitespace between its tokens: written as it is. */
export const JSON_COMPACT = 1;
/** One JSON value with whitespace between tokens: written without it (`compactJson`). */
export const JSON_SPACED = 2;
/** Valid so far, but nested deeper than MAX_JSON_DEPTH. */
export const JSON_TOO_DEEP = 3;
export type JsonScan =
  | typeof JSON_INVALID
  | typeof JSON_COMPACT
  | typeof JSON_SPACED
  | typeof JSON_TOO_DEEP;

/**
 * Whether `bytes[start, end)` is exactly one JSON value (RFC 8259), surrounding whitespace
 * allowed, without building it. The bytes are assumed to be valid UTF-8 (the parser decodes
 * every text body first), so string contents are only checked for escapes and control
 * characters. Everything accepted here, `JSON.parse` accepts too; a `false` only means "ask
 * JSON.parse", which also words the error.
 */
export function isJsonValue(bytes: Uint8Array, start: number, end: number): boolean {
  const scan = scanJsonValue(bytes, start, end);
  return scan === JSON_COMPACT || scan === JSON_SPACED;
}

/**
 * Checks `bytes[start, end)` as one JSON value (see isJsonValue) and tells whether whitespace
 * stands between its tokens, and whether it nests deeper than MAX_JSON_DEPTH. Iterative: no
 * input can exhaust the stack.
 */
export function scanJsonValue(bytes: Uint8Array, from: number, to: number): JsonScan {
  let start = from;
  let end = to;
  while (start < end && isWhitespace(bytes[start] as number)) start += 1;
  while (end > start && isWhitespace(bytes[end - 1] as number)) end -= 1;
  let depth = 0;
  let at = start;
  let spaced = false;
  // Helpers take and return positions (-1: invalid): no closure per call, as this runs per line.
  for (;;) {
    // A value is expected at `at`.
    if (at >= end) return JSON_INVALID;
    const byte = bytes[at] as number;
    let opened = false;
    if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (depth === MAX_JSON_DEPTH) return JSON_TOO_DEEP;
      const next = spaceEnd(bytes, at + 1, end);
      if (next !== at + 1) spaced = true;
      at = next;
      const closing = byte === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET;
      if (bytes[at] === closing) {
        at += 1;
      } else {
        stack[depth] = byte === OPEN_BRACE ? 1 : 2;
        depth += 1;
        opened = true;
      }
    } else {
      if (byte === QUOTE) at = stringEnd(bytes, at, end);
      else if (byte === MINUS || isDigit(byte)) at = numberEnd(bytes, at, end);
      else if (byte === 0x74) at = literalEnd(bytes, at, end, TRUE);
      else if (byte === 0x66) at = literalEnd(bytes, at, end, FALSE);
      else if (byte === 0x6e) at = literalEnd(bytes, at, end, NULL);
      else return JSON_INVALID;
      if (at === -1) return JSON_INVALID;
    }
    if (!opened) {
      // After a value: a comma or the end of its container, possibly of several.
      for (;;) {
        const next = spaceEnd(bytes, at, end);
        if (next !== at) spaced = true;
        at = next;
        if (depth === 0) return at !== end ? JSON_INVALID : spaced ? JSON_SPACED : JSON_COMPACT;
        const token = bytes[at];
        if (token === COMMA) {
          const after = spaceEnd(bytes, at + 1, end);
          if (after !== at + 1) spaced = true;
          at = after;
          break;
        }
        if (token === (stack[depth - 1] === 1 ? CLOSE_BRACE : CLOSE_BRACKET)) {
          at += 1;
          depth -= 1;
          continue;
        }
        return JSON_INVALID;
      }
    }
    // In an object, a member starts with its key and a colon.
    if (depth > 0 && stack[depth - 1] === 1) {
      if (bytes[at] !== QUOTE) return JSON_INVALID;
      at = stringEnd(bytes, at, end);
      if (at === -1) return JSON_INVALID;
      const next = spaceEnd(bytes, at, end);
      if (bytes[next] !== COLON) return JSON_INVALID;
      if (next !== at) spaced = true;
      at = spaceEnd(bytes, next + 1, end);
      if (at !== next + 1) spaced = true;
    }
  }
}

const TRUE = Buffer.from('true', 'latin1');
const FALSE = Buffer.from('false', 'latin1');
const NULL = Buffer.from('null', 'latin1');

function spaceEnd(bytes: Uint8Array, from: number, end: number): number {
  let at = from;
  while (at < end && isWhitespace(bytes[at] as number)) at += 1;
  return at;
}

/** Past the string whose opening quote is at `from`, or -1. */
function stringEnd(bytes: Uint8Array, from: number, end: number): number {
  let at = from + 1;
  while (at < end) {
    const byte = bytes[at] as number;
    if (byte === QUOTE) return at + 1;
    if (byte < SPACE) return -1;
    if (byte !== BACKSLASH) {
      at += 1;
      continue;
    }
    const next = bytes[at + 1] ?? 0;
    if (SIMPLE_ESCAPE[next] === 1) {
      at += 2;
    } else if (next === LOWER_U) {
      if (at + 6 > end) return -1;
      for (let i = at + 2; i < at + 6; i += 1) if (HEX[bytes[i] as number] !== 1) return -1;
      at += 6;
    } else {
      return -1;
    }
  }
  return -1;
}

function digitsEnd(bytes: Uint8Array, from: number, end: number): number {
  let at = from;
  while (at < end && isDigit(bytes[at] as number)) at += 1;
  return at;
}

/** Past the number that starts at `from`, or -1. */
function numberEnd(bytes: Uint8Array, from: number, end: number): number {
  let at = from;
  if (bytes[at] === MINUS) at += 1;
  if (bytes[at] === ZERO) {
    at += 1;
  } else {
    const next = digitsEnd(bytes, at, end);
    if (next === at) return -1;
    at = next;
  }
  if (bytes[at] === DOT) {
    const next = digitsEnd(bytes, at + 1, end);
    if (next === at + 1) return -1;
    at = next;
  }
  const e = bytes[at];
  if (e === LOWER_E || e === UPPER_E) {
    at += 1;
    if (bytes[at] === PLUS || bytes[at] === MINUS) at += 1;
    const next = digitsEnd(bytes, at, end);
    if (next === at) return -1;
    at = next;
  }
  return at;
}

function literalEnd(bytes: Uint8Array, from: number, end: number, word: Uint8Array): number {
  if (from + word.length > end) return -1;
  for (let i = 0; i < word.length; i += 1) if (bytes[from + i] !== word[i]) return -1;
  return from + word.length;
}

/**
 * Copies the JSON value `bytes[start, end)` (valid: checked by scanJsonValue or the scanner)
 * into `target` at `at` without the whitespace between its tokens; returns the bytes written.
 * Strings are copied byte for byte (their escapes as written), so only the layout changes.
 */
export function compactJson(
  bytes: Uint8Array,
  start: number,
  end: number,
  target: Uint8Array,
  at: number,
): number {
  let out = at;
  let inString = false;
  for (let i = start; i < end; i += 1) {
    const byte = bytes[i] as number;
    if (inString) {
      target[out] = byte;
      out += 1;
      if (byte === BACKSLASH) {
        target[out] = bytes[i + 1] as number;
        out += 1;
        i += 1;
      } else if (byte === QUOTE) {
        inString = false;
      }
      continue;
    }
    if (isWhitespace(byte)) continue;
    if (byte === QUOTE) inString = true;
    target[out] = byte;
    out += 1;
  }
  return out - at;
}

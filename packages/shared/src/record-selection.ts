import * as z from 'zod/mini';
import { recordFieldSchema } from './record-key.js';

/**
 * Which records of a fetch a source emits, beyond what it fetches:
 *
 *   emit: "changes"   only the records whose (key, hash) the source's previous fetch did not
 *                     produce (the parser reads that fetch's raw objects again to know)
 *   cursor            only the records whose cursor field is above the highest value seen so
 *                     far; with `param`, that value is also sent to the upstream (`since=`)
 *
 * Both travel like the validators: the state holds the previous fetch's raw keys and the
 * highest cursor value, a task carries them, the collector writes them into each page's pack
 * entry (or single raw object's metadata), and the parser filters with exactly what the
 * fetch was made with, so a retry or a reparse writes the same bytes.
 */

/** `all`: every record of every fetch (the default); `changes`: see above. */
export const EMIT_MODES = ['all', 'changes'] as const;
export const EmitSchema = /* @__PURE__ */ z.lazy(() => z.enum(EMIT_MODES));
export type Emit = z.infer<typeof EmitSchema>;

/** Longest cursor value kept, as JSON text: it travels in S3 metadata and run manifests. */
export const CURSOR_VALUE_MAX_CHARS = 256;

/** A query parameter name: printable, no more than this many characters. */
export const CURSOR_PARAM_MAX_CHARS = 128;

/**
 * An incremental source's cursor: the record field that grows with each new or updated
 * record (a field name or a JSON pointer, as in `key`), and optionally the query parameter
 * that sends the highest value seen so far to the upstream (`since`, `updated_after`).
 */
export const CursorSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    field: recordFieldSchema(),
    param: z.optional(
      z.string().check(
        z.minLength(1),
        z.maxLength(CURSOR_PARAM_MAX_CHARS),
        z.refine((name) => ![...name].some((c) => c <= ' ' || c === '\u007f'), {
          message: 'a query parameter name has no spaces or control characters',
        }),
      ),
    ),
  }),
);
export type Cursor = z.infer<typeof CursorSchema>;

/** What a page's parse needs of its source's cursor: the field, and the value the fetch used. */
export const PageCursorSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    field: recordFieldSchema(),
    /** The highest value seen before this fetch (JSON text); absent on the first fetch. */
    value: z.optional(z.string()),
  }),
);
export type PageCursor = z.infer<typeof PageCursorSchema>;

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * A cursor value is kept as the JSON text of the field's value: a number exactly as the
 * source wrote it (`1733480000`, `12345678901234567890123`), or a JSON string
 * (`"2026-12-06T10:00:00Z"`). Other values (null, booleans, objects, arrays) are no cursor.
 */
export function isCursorValue(text: string): boolean {
  if (text.length === 0 || text.length > CURSOR_VALUE_MAX_CHARS) return false;
  if (text.startsWith('"')) {
    try {
      return typeof JSON.parse(text) === 'string';
    } catch {
      return false;
    }
  }
  return NUMBER.test(text);
}

export const CursorValueSchema = /* @__PURE__ */ z.lazy(() =>
  z.string().check(
    z.refine(isCursorValue, {
      message: `must be the JSON text of a number or a string, at most ${CURSOR_VALUE_MAX_CHARS} characters`,
    }),
  ),
);

/** The text a cursor value is sent as in a query parameter: a string's own text, a number's digits. */
export function cursorParamText(value: string): string {
  return value.startsWith('"') ? (JSON.parse(value) as string) : value;
}

/** A decimal as 0.DIGITS x 10^point, DIGITS without leading or trailing zeros ('' for zero). */
function decimal(text: string): { negative: boolean; digits: string; point: bigint } {
  const match = NUMBER.exec(text);
  const whole = match?.[1] ?? '0';
  const fraction = (match?.[2] ?? '').slice(1);
  const exponent = BigInt((match?.[3] ?? 'e0').slice(1));
  const all = whole + fraction;
  const leading = all.length - all.replace(/^0+/, '').length;
  const digits = all.slice(leading).replace(/0+$/, '');
  return {
    negative: text.startsWith('-') && digits !== '',
    digits,
    point: BigInt(whole.length - leading) + exponent,
  };
}

function sign(n: number | bigint): number {
  return n > 0 ? 1 : n < 0 ? -1 : 0;
}

/** Order of two ASCII digit strings of one length (or any two strings, by code unit). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Exact comparison of two JSON numbers' texts (no rounding to doubles: ids past 2^53 stay apart). */
function compareNumbers(a: string, b: string): number {
  const x = decimal(a);
  const y = decimal(b);
  const signOf = (d: typeof x) => (d.digits === '' ? 0 : d.negative ? -1 : 1);
  if (signOf(x) !== signOf(y)) return sign(signOf(x) - signOf(y));
  if (signOf(x) === 0) return 0;
  const magnitude =
    x.point !== y.point
      ? sign(x.point - y.point)
      : compareText(x.digits.padEnd(y.digits.length, '0'), y.digits.padEnd(x.digits.length, '0'));
  return x.negative ? -magnitude : magnitude;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (exact for every year). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** An RFC 3339 date-time as whole UTC seconds and its fraction's digits, or undefined. */
function instant(text: string): { seconds: number; fraction: string } | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return undefined;
  }
  const offsetMinutes =
    m[9] === undefined ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  const seconds =
    daysFromCivil(year, month, day) * 86_400 +
    hour * 3_600 +
    minute * 60 +
    second -
    offsetMinutes * 60;
  return { seconds, fraction: (m[7] ?? '').replace(/0+$/, '') };
}

function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
    const difference = (x[i]?.codePointAt(0) ?? 0) - (y[i]?.codePointAt(0) ?? 0);
    if (difference !== 0) return sign(difference);
  }
  return sign(x.length - y.length);
}

/**
 * How two cursor values compare: negative, 0 or positive, or undefined when they cannot be
 * compared (a number and a string). Numbers compare exactly by value, whatever their
 * spelling (`1.0e2` = `100`); two RFC 3339 date-times compare as instants, offsets and
 * fractions of a second included (`2026-12-06T11:00:00+01:00` = `2026-12-06T10:00:00Z`);
 * any other two strings by Unicode code points, as Singer taps and Airbyte compare string
 * cursors (ISO dates of one format, zero-padded ids and ULIDs sort correctly that way).
 */
export function compareCursorValues(a: string, b: string): number | undefined {
  const aString = a.startsWith('"');
  if (aString !== b.startsWith('"')) return undefined;
  if (!aString) return compareNumbers(a, b);
  const x = JSON.parse(a) as string;
  const y = JSON.parse(b) as string;
  const xAt = instant(x);
  const yAt = instant(y);
  if (xAt && yAt) {
    if (xAt.seconds !== yAt.seconds) return sign(xAt.seconds - yAt.seconds);
    const width = Math.max(xAt.fraction.length, yAt.fraction.length);
    return compareText(xAt.fraction.padEnd(width, '0'), yAt.fraction.padEnd(width, '0'));
  }
  return compareCodePoints(x, y);
}

/**
 * The higher of the cursor kept and one just observed. A value that cannot be compared with
 * the one kept (the field changed from numbers to strings) replaces it: the newest truth.
 */
export function higherCursor(
  kept: string | undefined,
  observed: string | undefined,
): string | undefined {
  if (kept === undefined) return observed;
  if (observed === undefined) return kept;
  const order = compareCursorValues(observed, kept);
  return order === undefined || order > 0 ? observed : kept;
}

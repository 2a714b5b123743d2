import * as z from 'zod/mini';

/** Most fields a record key may combine. */
export const MAX_KEY_FIELDS = 8;
/** Largest record key, as JSON: it travels in S3 user metadata (`record-key`). */
export const MAX_KEY_JSON_BYTES = 256;

/**
 * The path tokens of one key field: a top-level field name (`"id"`), or an RFC 6901 JSON
 * pointer when it starts with `/` (`"/item/guid"`, `"/tags/0"`; `~1` is `/`, `~0` is `~`).
 * Undefined when a pointer has a `~` that is not `~0` or `~1`.
 */
export function keyFieldTokens(field: string): string[] | undefined {
  if (!field.startsWith('/')) return [field];
  const tokens: string[] = [];
  for (const raw of field.slice(1).split('/')) {
    if (/~(?![01])/.test(raw)) return undefined;
    tokens.push(raw.replaceAll('~1', '/').replaceAll('~0', '~'));
  }
  return tokens;
}

/**
 * One field of a record, as a key or a cursor names it: a field name or a JSON pointer
 * (a function, as every schema of the contract is built on first use).
 */
export const recordFieldSchema = () =>
  z.string().check(
    z.minLength(1),
    z.maxLength(256),
    z.refine((field) => keyFieldTokens(field) !== undefined, {
      message: 'a JSON pointer may use ~ only as ~0 (for ~) or ~1 (for /)',
    }),
  );

/**
 * A source's record key: the fields whose values identify a record across fetches (a
 * primary key), each a field name or a JSON pointer. Records with the same source and key
 * are versions of one record (see the parser's README, "Record identity").
 */
export const RecordKeySchema = /* @__PURE__ */ z.lazy(() =>
  z.array(recordFieldSchema()).check(
    z.minLength(1),
    z.maxLength(MAX_KEY_FIELDS),
    z.refine((key) => Buffer.byteLength(JSON.stringify(key)) <= MAX_KEY_JSON_BYTES, {
      message: `may take at most ${MAX_KEY_JSON_BYTES} bytes as JSON (it travels in a raw object's S3 metadata, 2 KB in all)`,
    }),
  ),
);
export type RecordKey = z.infer<typeof RecordKeySchema>;

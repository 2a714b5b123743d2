import * as z from 'zod/mini';

/**
 * The `html` format's options and the syntax of a field, shared by the manifest check, the
 * parser (records) and the collector (`html-next` pagination). A field is a CSS selector,
 * relative to the item, with an optional `@attribute` at its end; what it yields:
 *
 *   "h2 a"                                 the text of the first match (whitespace collapsed)
 *   "h2 a@href"                            an attribute of the first match (URLs resolved)
 *   "@data-sku"                            an attribute of the item itself
 *   { "selector": ".desc", "html": true }  the inner HTML of the first match
 *   { "selector": ".tags a", "all": true } a list, one value per match
 *
 * A field with no match (or no such attribute) is `null`; a list with none is `[]`.
 */
export interface HtmlField {
  /** CSS selector, relative to the item; empty for the item itself. */
  readonly selector: string;
  /** The attribute to read instead of the text. */
  readonly attribute?: string;
  /** The inner HTML instead of the text. */
  readonly html: boolean;
  /** Every match, as a list. */
  readonly all: boolean;
}

/** A trailing `@name`: an attribute name cannot hold quotes, brackets, `=`, `@` or whitespace. */
const ATTRIBUTE_SUFFIX = /@([^\s"'=@[\]()<>/]+)$/;

/** `"a.next@href"` -> `{ selector: "a.next", attribute: "href" }`; no `@`: the text. */
export function splitAttribute(spec: string): { selector: string; attribute?: string } {
  const match = ATTRIBUTE_SUFFIX.exec(spec);
  if (!match?.[1]) return { selector: spec.trim() };
  return {
    selector: spec.slice(0, match.index).trim(),
    attribute: match[1].toLowerCase(),
  };
}

export const HtmlFieldSchema = /* @__PURE__ */ z.lazy(() =>
  z.union([
    z.string(),
    z.strictObject({
      /** CSS selector with an optional `@attribute`, as the short form. */
      selector: z.string(),
      /** The inner HTML of the match instead of its text. */
      html: z.optional(z.boolean()),
      /** Every match as a list (`[]` when none) instead of the first (`null` when none). */
      all: z.optional(z.boolean()),
    }),
  ]),
);
export type HtmlFieldSpec = z.infer<typeof HtmlFieldSchema>;

/** A field as written in the manifest, read into what it selects and yields. */
export function readHtmlField(spec: HtmlFieldSpec): HtmlField {
  const written = typeof spec === 'string' ? { selector: spec } : spec;
  const { selector, attribute } = splitAttribute(written.selector);
  return {
    selector,
    ...(attribute !== undefined ? { attribute } : {}),
    html: written.html ?? false,
    all: written.all ?? false,
  };
}

/** What a field's own syntax gets wrong (before its selector is compiled), if anything. */
export function htmlFieldProblem(field: HtmlField): string | undefined {
  if (field.html && field.attribute !== undefined) {
    return `"html": true reads the inner HTML, and @${field.attribute} an attribute: choose one`;
  }
  if (field.selector === '' && field.attribute === undefined && !field.html) {
    return 'is empty: write a CSS selector, or "@attribute" for an attribute of the item';
  }
  return undefined;
}

export const HtmlFieldsSchema = /* @__PURE__ */ z.lazy(() =>
  z
    .record(z.string().check(z.minLength(1, 'a field name cannot be empty')), HtmlFieldSchema, {
      error: (issue) =>
        issue.input === undefined
          ? 'is required: record field name -> CSS selector, e.g. {"name": "h2", "link": "a@href"}'
          : undefined,
    })
    .check(
      z.refine((fields) => Object.keys(fields).length > 0, { message: 'needs at least one field' }),
    ),
);

/**
 * Largest `options` of an `html` source, as JSON: they travel as S3 user metadata with a page
 * too large for a pack, and S3 allows 2 KB of user metadata in all (the URL and the other
 * fields need the rest).
 */
export const HTML_OPTIONS_MAX_BYTES = 1024;

import * as z from 'zod/mini';
import { buildOnce } from './build-once.js';
import { cadenceScheduleProblem, readCadence } from './cadence.js';
import { ContractValidationError } from './errors.js';
import {
  HTML_OPTIONS_MAX_BYTES,
  HtmlFieldsSchema,
  htmlFieldProblem,
  readHtmlField,
  splitAttribute,
} from './html-options.js';
import { SourceIdSchema } from './ids.js';
import {
  COLLECTOR_PAYLOAD_RESERVE_BYTES,
  DEFAULT_COLLECTOR_SAFETY_MARGIN_MS,
  LAMBDA_MAX_TIMEOUT_SECONDS,
  MAX_SOURCE_BYTES,
} from './limits.js';
import { type OriginLimit, OriginsSchema, originOf } from './origins.js';
import { RecordKeySchema } from './record-key.js';
import { CursorSchema, EmitSchema } from './record-selection.js';
import type { Schedule } from './schedule.js';
import {
  BasicAuthSchema,
  isCredentialHeader,
  isCredentialQueryName,
  isSecretReference,
  type SecretOrLiteral,
  SecretOrLiteralSchema,
} from './secrets.js';
import { cssSelectorProblem } from './selectors.js';
import { type Topology, topology } from './topology.js';
import { check, formatPath, parseJson } from './validate.js';

export * from './html-options.js';
export * from './secrets.js';

export const BUILT_IN_FORMATS = ['json', 'ndjson', 'csv', 'rss', 'atom', 'html'] as const;
export type BuiltInFormat = (typeof BUILT_IN_FORMATS)[number];

/**
 * The custom extractors the deployed parser registers (`registerExtractor` in
 * @fanout/parser): a source's `format` must be a built-in format or one of these, so a typo
 * is rejected before anything is fetched. Registering an extractor means adding its name here.
 */
export const CUSTOM_FORMATS = ['key-value'] as const;

/** Every format a source may name. */
export const KNOWN_FORMATS: readonly string[] = [...BUILT_IN_FORMATS, ...CUSTOM_FORMATS];

/** A built-in format, or the name of a custom extractor registered in the parser. */
export const FormatSchema = z
  .string()
  .check(
    z.regex(
      /^[a-z][a-z0-9-]{0,63}$/,
      `must be one of ${BUILT_IN_FORMATS.join(', ')} or a custom extractor name (lowercase, digits, -)`,
    ),
  );

export const HttpUrlSchema = /* @__PURE__ */ z.lazy(() =>
  z.string().check(
    z.refine(
      (value) => {
        try {
          const { protocol } = new URL(value);
          return protocol === 'http:' || protocol === 'https:';
        } catch {
          return false;
        }
      },
      { message: 'must be http or https' },
    ),
  ),
);

const headerNameSchema = () =>
  z.string().check(z.regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'not a valid header name'));

/**
 * Why text cannot be sent as (part of) a header value, or undefined. HTTP carries tab,
 * space, visible ASCII and the bytes 0x80-0xFF, on one line (RFC 9110 field-value); fetch
 * refuses anything else, so such a source could only fail when fetched. The message
 * never quotes the value (it may be a credential).
 */
export function headerValueProblem(value: string): string | undefined {
  for (let index = 0; index < value.length; index += 1) {
    const code = value.charCodeAt(index);
    const at = `at character ${index + 1}`;
    if (code === 0x0d || code === 0x0a) {
      return `has a line break (CR or LF) ${at}: a header value is one line (a line break would start a header of its own)`;
    }
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) {
      return `has the control character U+${code.toString(16).toUpperCase().padStart(4, '0')} ${at}, which HTTP cannot carry`;
    }
    if (code > 0xff) {
      return `has a character above U+00FF ${at}: a header value is bytes (tab, space, visible ASCII, 0x80-0xFF); percent-encode it as the API expects`;
    }
  }
  return undefined;
}

/** Every format option (the object `FormatOptionsSchema` is made of, built once, on first use). */
const formatOptionsObject = /* @__PURE__ */ buildOnce(() =>
  z.strictObject({
    /** Dot path to the array of records in a JSON document, e.g. `data.items`. */
    recordsPath: z.optional(z.string().check(z.minLength(1))),
    /** CSV field delimiter. */
    delimiter: z.optional(z.string().check(z.length(1, 'must be a single character'))),
    /** CSV: first row holds the column names. */
    header: z.optional(z.boolean()),
    /** CSV: rows with more or fewer fields than the header are accepted (off by default). */
    relaxColumnCount: z.optional(z.boolean()),
    /** Parser: turns off the leniencies for real-world input (see the parser's README). */
    strict: z.optional(z.boolean()),
    /** Parser: bytes invalid in the body's encoding quarantine it (`fatal`, default) or become U+FFFD. */
    invalidBytes: z.optional(z.enum(['fatal', 'replace'])),
    /** HTML: CSS selector of each record's element; absent: the page is one record. */
    items: z.optional(z.string()),
    /** HTML: record field name -> selector (`"h2"`, `"a@href"`, `{selector, html, all}`). */
    fields: z.optional(HtmlFieldsSchema),
  }),
);

export const FormatOptionsSchema = /* @__PURE__ */ z.lazy(formatOptionsObject);
export type FormatOptions = z.infer<typeof FormatOptionsSchema>;

/** The options each built-in format reads; a custom extractor may read any of them. */
const FORMAT_OPTION_KEYS = {
  json: { recordsPath: true, strict: true, invalidBytes: true },
  ndjson: { strict: true, invalidBytes: true },
  csv: { delimiter: true, header: true, relaxColumnCount: true, strict: true, invalidBytes: true },
  rss: { strict: true, invalidBytes: true },
  atom: { strict: true, invalidBytes: true },
  html: { items: true, fields: true, invalidBytes: true },
} as const satisfies Record<BuiltInFormat, Partial<Record<keyof FormatOptions, true>>>;

/** The `html` format's options: `fields` is required, and the whole fits in S3 metadata. */
const htmlOptionsSchema = /* @__PURE__ */ buildOnce(() =>
  z
    .strictObject({
      ...z.pick(formatOptionsObject(), FORMAT_OPTION_KEYS.html).def.shape,
      fields: HtmlFieldsSchema,
    })
    .check(
      z.refine((options) => JSON.stringify(options).length <= HTML_OPTIONS_MAX_BYTES, {
        message: `take more than ${HTML_OPTIONS_MAX_BYTES} bytes as JSON (they travel as S3 metadata with a page too large for a pack); use shorter selectors or fewer fields`,
      }),
    ),
);

/** The options schema of one format: a built-in's own keys, or every key for a custom one. */
export function formatOptionsSchemaFor(format: string): z.ZodMiniType<FormatOptions> {
  if (format === 'html') return htmlOptionsSchema();
  const keys: Partial<Record<keyof FormatOptions, true>> | undefined =
    FORMAT_OPTION_KEYS[format as BuiltInFormat];
  if (keys === undefined) return FormatOptionsSchema;
  let schema = formatOptionSchemas.get(format);
  if (schema === undefined) {
    schema = z.pick(formatOptionsObject(), keys);
    formatOptionSchemas.set(format, schema);
  }
  return schema;
}

/** The built-in formats' option schemas, each built when a source of that format is first read. */
const formatOptionSchemas = new Map<string, z.ZodMiniType<FormatOptions>>();

const maxPagesSchema = () =>
  z._default(z.number().check(z.int(), z.minimum(1), z.maximum(1000)), 20);

export const PaginationSchema = /* @__PURE__ */ z.lazy(() =>
  z.discriminatedUnion('type', [
    z.object({
      /** Follows `Link: <url>; rel="next"` response headers. */
      type: z.literal('link-header'),
      maxPages: maxPagesSchema(),
    }),
    z.object({
      /** Follows a URL found at a dot path in a JSON response body. */
      type: z.literal('json-next'),
      path: z.string().check(z.minLength(1)),
      maxPages: maxPagesSchema(),
    }),
    z.object({
      /** Follows the link of the first element an HTML page's selector matches (`a[rel=next]@href`). */
      type: z.literal('html-next'),
      /** CSS selector with the attribute holding the URL; `@href` when none is written. */
      selector: z.string().check(z.minLength(1)),
      maxPages: maxPagesSchema(),
    }),
  ]),
);
export type Pagination = z.infer<typeof PaginationSchema>;

export const DEFAULT_SOURCE_TIMEOUT_MS = 10_000;

/** A source's (or its follow's) format must be known, and its options those the format reads. */
function formatProblems(
  source: { format: string; options: FormatOptions },
  context: z.core.$RefinementCtx,
  at: readonly string[] = [],
): void {
  // Only a well-formed name and options are checked further (the object's own issues name the rest).
  if (!FormatSchema.safeParse(source.format).success) return;
  if (!FormatOptionsSchema.safeParse(source.options).success) return;
  if (!KNOWN_FORMATS.includes(source.format)) {
    context.addIssue({
      code: 'custom',
      path: [...at, 'format'],
      input: source.format,
      message: `unknown format (built-in: ${BUILT_IN_FORMATS.join(', ')}; custom extractors: ${CUSTOM_FORMATS.join(', ')}, listed in CUSTOM_FORMATS of @fanout/shared as the parser registers them)`,
    });
    return;
  }
  const result = formatOptionsSchemaFor(source.format).safeParse(source.options);
  if (result.success) return;
  for (const issue of result.error.issues) {
    const unknownKeys = issue.code === 'unrecognized_keys' ? issue.keys : undefined;
    context.addIssue({
      code: 'custom',
      path: [...at, 'options', ...issue.path],
      input: unknownKeys ? unknownKeys.join(', ') : issue.input,
      message: unknownKeys
        ? `${unknownKeys.length === 1 ? 'is not an option' : 'are not options'} of the ${source.format} format (it reads ${Object.keys(FORMAT_OPTION_KEYS[source.format as BuiltInFormat] ?? {}).join(', ')})`
        : `${issue.message} (${source.format} format)`,
    });
  }
}

/**
 * A cursor's query parameter must be the source's own: one the URL or `query` already sends
 * would go out twice, and which of the two an upstream reads is its choice.
 */
function cursorParamProblems(
  source: {
    url: string;
    query?: Record<string, unknown> | undefined;
    cursor?: { param?: string | undefined } | undefined;
  },
  context: z.core.$RefinementCtx,
): void {
  const param = source.cursor?.param;
  if (param === undefined) return;
  let inUrl = false;
  try {
    inUrl = new URL(source.url).searchParams.has(param);
  } catch {
    // The url's own issue names it.
  }
  const inQuery = Object.hasOwn(source.query ?? {}, param);
  if (!inUrl && !inQuery) return;
  context.addIssue({
    code: 'custom',
    path: ['cursor', 'param'],
    input: param,
    message: `is already a query parameter of the source (its ${inUrl ? 'url' : '"query"'}); the cursor's value would be sent twice: remove it there or name another parameter`,
  });
}

/** How often the source is collected: `30m`, `6h`, `1d` or `cron(...)` (see cadence.ts). */
export const CadenceSchema = /* @__PURE__ */ z.lazy(() =>
  z.string().check(
    z.superRefine((value, context) => {
      const read = readCadence(value);
      if (!read.ok) context.addIssue({ code: 'custom', message: read.problem, input: value });
    }),
  ),
);

/** Links a source follows at most per run, whatever its `max` says. */
export const FOLLOW_MAX_LINKS = 1000;
/** Links a source follows per run when its `follow` sets no `max`. */
export const DEFAULT_FOLLOW_MAX = 500;
/**
 * Longest id of a source that follows links: its detail pages' task ids are its id plus
 * `.detail.` and 16 hex digits, and every id is at most 128 characters.
 */
export const FOLLOWING_SOURCE_ID_MAX = 104;

/**
 * Detail pages: the links a source's pages hold (a CSS selector with the attribute holding the
 * URL, `@href` when none is written) become tasks of the same run, fetched by collectors like
 * any task and parsed with their own format and options. Links on the source URL's origin are
 * followed, on other origins only those listed in `origins`.
 */
export const FollowSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    /** `selector@attribute` of each link (`ul.products h2 a@href`). */
    links: z.string().check(z.minLength(1)),
    format: FormatSchema,
    options: z._default(FormatOptionsSchema, {}),
    /** Links followed at most per run (the first ones, in page order). */
    max: z._default(
      z.number().check(z.int(), z.minimum(1), z.maximum(FOLLOW_MAX_LINKS)),
      DEFAULT_FOLLOW_MAX,
    ),
    /** Other origins whose links are followed too (`https://cdn.shop.example`). */
    origins: z.optional(z.array(HttpUrlSchema).check(z.maxLength(16))),
    /** The detail records' key (see `key` of a source). */
    key: z.optional(RecordKeySchema),
  }),
);
export type Follow = z.infer<typeof FollowSchema>;

/** Problems of a follow that its schema cannot see: a format, options and origins that fit. */
function followProblems(source: Source, context: z.core.$RefinementCtx): void {
  const { follow } = source;
  if (follow === undefined) return;
  if (source.format !== 'html') {
    context.addIssue({
      code: 'custom',
      path: ['follow'],
      input: source.format,
      message: "reads links from HTML pages: the source's format must be html",
    });
  }
  if (source.id.length > FOLLOWING_SOURCE_ID_MAX) {
    context.addIssue({
      code: 'custom',
      path: ['id'],
      input: source.id,
      message: `is longer than the ${FOLLOWING_SOURCE_ID_MAX} characters a source that follows links may have (its detail pages' ids add ${128 - FOLLOWING_SOURCE_ID_MAX})`,
    });
  }
  for (const [index, origin] of (follow.origins ?? []).entries()) {
    if (originOf(origin) !== origin) {
      context.addIssue({
        code: 'custom',
        path: ['follow', 'origins', index],
        input: origin,
        message: `must be an origin without a path or trailing slash: ${JSON.stringify(originOf(origin))}`,
      });
    }
  }
  formatProblems(follow, context, ['follow']);
}

/** A `userAgent` that HTTP can carry, and not set twice. */
function userAgentProblems(source: Source, context: z.core.$RefinementCtx): void {
  if (source.userAgent === undefined) return;
  const problem = headerValueProblem(source.userAgent);
  if (problem !== undefined) {
    context.addIssue({
      code: 'custom',
      path: ['userAgent'],
      input: source.userAgent,
      message: problem,
    });
  }
  if (Object.keys(source.headers ?? {}).some((name) => name.toLowerCase() === 'user-agent')) {
    context.addIssue({
      code: 'custom',
      path: ['userAgent'],
      input: source.userAgent,
      message: 'is set twice: the source has a User-Agent header too (keep one)',
    });
  }
}

export const SourceSchema = /* @__PURE__ */ z.lazy(() =>
  z
    .strictObject({
      id: SourceIdSchema,
      url: HttpUrlSchema,
      format: FormatSchema,
      /** Header values: literal text, or `{ "secret": "ssm:/name", "prefix": "Bearer " }`. */
      headers: z.optional(z.record(headerNameSchema(), SecretOrLiteralSchema)),
      /** Query parameters added to the first request's URL, literal or secret references. */
      query: z.optional(z.record(z.string().check(z.minLength(1)), SecretOrLiteralSchema)),
      /** Basic auth for the source's origin; use it (with secret references) instead of `user:password@`. */
      basicAuth: z.optional(BasicAuthSchema),
      /**
       * Lets credentials sit in the manifest as literal text (headers, `user:password@`,
       * query values). For test and demo sources only: the manifest is in git and in S3.
       */
      allowLiteralCredentials: z.optional(z.boolean()),
      /** Per-request timeout. */
      timeoutMs: z._default(
        z.number().check(z.int(), z.minimum(100), z.maximum(LAMBDA_MAX_TIMEOUT_SECONDS * 1000)),
        DEFAULT_SOURCE_TIMEOUT_MS,
      ),
      /** How long a fetch of this source is expected to take; refined by measured runs. */
      expectedDurationMs: z.optional(z.number().check(z.int(), z.positive())),
      /** Largest response body accepted, in bytes. */
      maxBytes: z.optional(z.number().check(z.int(), z.positive())),
      /** Allows loopback and private addresses (SSRF guard off for this source). */
      allowPrivateNetwork: z._default(z.boolean(), false),
      pagination: z.optional(PaginationSchema),
      options: z._default(FormatOptionsSchema, {}),
      /**
       * The fields that identify a record across fetches (field names or JSON pointers, e.g.
       * `["id"]`, `["/item/guid"]`). Absent: a record's identity is its content hash.
       */
      key: z.optional(RecordKeySchema),
      /** Collected only by the scheduled runs it is due in; absent: every run. */
      every: z.optional(CadenceSchema),
      /** Detail pages: the links of its pages become tasks of the run (see FollowSchema). */
      follow: z.optional(FollowSchema),
      /**
       * Asks each origin's robots.txt (RFC 9309) before fetching from it, once per run: a
       * disallowed URL fails with the reason and is never requested.
       */
      respectRobotsTxt: z.optional(z.boolean()),
      /** The User-Agent its requests send (the stack's default otherwise); robots.txt groups match it. */
      userAgent: z.optional(z.string().check(z.minLength(1), z.maxLength(512))),
      /**
       * `changes`: a fetch emits only the records whose (key, hash) the source's previous
       * fetch did not produce; `all` (the default): every record of every fetch.
       */
      emit: z.optional(EmitSchema),
      /**
       * Incremental fetches: the field whose highest value seen is remembered, records at or
       * below it are not emitted again, and with `param` it is sent as that query parameter.
       */
      cursor: z.optional(CursorSchema),
    })
    .check(
      z.superRefine((source, context) => {
        formatProblems(source, context);
        followProblems(source, context);
        userAgentProblems(source, context);
        cursorParamProblems(source, context);
      }),
    ),
);
export type Source = z.infer<typeof SourceSchema>;
export type SourceInput = z.input<typeof SourceSchema>;

export const ManifestSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    version: z._default(z.literal(1), 1),
    sources: z.array(z.unknown()),
    /**
     * Polite limits per origin, over the whole run: `{"https://shop.example": {"concurrency":
     * 2, "perMinute": 60}}` (see origins.ts). Origins not listed get the stack's default.
     */
    origins: z.optional(OriginsSchema),
  }),
);

export interface InvalidSource {
  readonly index: number;
  /** The id, when the entry had a usable one. */
  readonly id?: string;
  readonly errors: readonly string[];
}

export interface ManifestParseResult {
  readonly sources: Source[];
  readonly invalid: InvalidSource[];
  /** The manifest's per-origin limits, by origin (`https://shop.example`). */
  readonly origins: Readonly<Record<string, OriginLimit>>;
}

const HOW_TO_REFERENCE =
  'reference a secret instead, e.g. {"secret": "ssm:/fanout/token", "prefix": "Bearer "} or ' +
  '{"secret": "secretsmanager:fanout/partner", "key": "password"} ' +
  '(or set allowLiteralCredentials for a test source)';

/**
 * Credentials written out as literal text in a source: credential-like headers,
 * credential-like query parameters (in `query` or the URL), `user:password@` in
 * the URL, a literal basic-auth password. Each problem names the field.
 */
export function literalCredentialProblems(source: Source, index: number): string[] {
  if (source.allowLiteralCredentials) return [];
  const at = (...path: (string | number)[]) => formatPath(['sources', index, ...path]);
  const literal = (value: SecretOrLiteral) => !isSecretReference(value);
  const problems: string[] = [];
  for (const [name, value] of Object.entries(source.headers ?? {})) {
    if (isCredentialHeader(name) && literal(value)) {
      problems.push(`${at('headers', name)}: literal credential in a header; ${HOW_TO_REFERENCE}`);
    }
  }
  for (const [name, value] of Object.entries(source.query ?? {})) {
    if (isCredentialQueryName(name) && literal(value)) {
      problems.push(
        `${at('query', name)}: literal credential in a query parameter; ${HOW_TO_REFERENCE}`,
      );
    }
  }
  const url = new URL(source.url);
  if (url.username !== '' || url.password !== '') {
    problems.push(
      `${at('url')}: user:password@ in the URL; use "basicAuth": {"username": "...", "password": {"secret": "ssm:/..."}}; ${HOW_TO_REFERENCE}`,
    );
  }
  for (const name of new Set(url.searchParams.keys())) {
    if (isCredentialQueryName(name)) {
      problems.push(
        `${at('url')}: query parameter ${JSON.stringify(name)} looks like a credential; move it to "query" as a secret reference; ${HOW_TO_REFERENCE}`,
      );
    }
  }
  if (source.basicAuth && literal(source.basicAuth.password)) {
    problems.push(`${at('basicAuth', 'password')}: literal password; ${HOW_TO_REFERENCE}`);
  }
  return problems;
}

/** Header values HTTP cannot carry: a literal value, or a secret reference's prefix. */
export function headerValueProblems(source: Source, index: number): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(source.headers ?? {})) {
    const text = isSecretReference(value) ? value.prefix : value;
    const problem = text === undefined ? undefined : headerValueProblem(text);
    if (problem === undefined) continue;
    const path = isSecretReference(value) ? ['headers', name, 'prefix'] : ['headers', name];
    problems.push(`${formatPath(['sources', index, ...path])}: header value ${problem}`);
  }
  return problems;
}

/**
 * Every CSS selector of a source (the `html` format's items and fields, `html-next`
 * pagination) compiled before anything is fetched: each problem names the field and the
 * selector as written.
 */
export function selectorProblems(source: Source, index: number): string[] {
  const problems: string[] = [];
  const at = (...path: string[]) => formatPath(['sources', index, ...path]);
  const compiled = (path: string, selector: string, written: string) => {
    const problem = cssSelectorProblem(selector);
    if (problem !== undefined) {
      problems.push(`${path}: invalid CSS selector ${JSON.stringify(written)}: ${problem}`);
    }
  };
  const { items, fields } = source.options;
  if (source.format === 'html' && items !== undefined)
    compiled(at('options', 'items'), items, items);
  for (const [name, spec] of source.format === 'html' ? Object.entries(fields ?? {}) : []) {
    const field = readHtmlField(spec);
    const written = typeof spec === 'string' ? spec : spec.selector;
    const problem = htmlFieldProblem(field);
    if (problem !== undefined) problems.push(`${at('options', 'fields', name)}: ${problem}`);
    else if (field.selector !== '')
      compiled(at('options', 'fields', name), field.selector, written);
  }
  if (source.pagination?.type === 'html-next') {
    const written = source.pagination.selector;
    compiled(at('pagination', 'selector'), splitAttribute(written).selector, written);
  }
  const follow = source.follow;
  if (follow !== undefined) {
    compiled(at('follow', 'links'), splitAttribute(follow.links).selector, follow.links);
    if (follow.format === 'html') {
      for (const problem of selectorProblems(
        {
          ...source,
          format: 'html',
          options: follow.options,
          follow: undefined,
          pagination: undefined,
        },
        index,
      )) {
        problems.push(problem.replace(`${at('options')}`, at('follow', 'options')));
      }
    }
  }
  return problems;
}

function idOf(entry: unknown): string | undefined {
  if (typeof entry === 'object' && entry !== null && 'id' in entry) {
    const id = (entry as { id: unknown }).id;
    if (typeof id === 'string' && SourceIdSchema.safeParse(id).success) return id;
  }
  return undefined;
}

/** What one collector invocation can give a source, as deployed. */
export interface SourceLimits {
  /** Largest `maxBytes`: the collector's per-source byte limit. */
  readonly maxBytes: number;
  /** Largest source, as JSON, that a collector payload can carry with its batch envelope. */
  readonly maxSourceJsonBytes: number;
  /** The async invoke payload limit that bound comes from. */
  readonly payloadLimitBytes: number;
  /** Largest `timeoutMs`: the collector's timeout minus its safety margin. */
  readonly maxTimeoutMs: number;
  readonly collectorTimeoutMs: number;
  readonly safetyMarginMs: number;
}

export function sourceLimits(topo: Topology = topology): SourceLimits {
  const collectorTimeoutMs = topo.functions.collector.timeoutSeconds * 1000;
  return {
    maxBytes: MAX_SOURCE_BYTES,
    maxSourceJsonBytes: topo.payloadLimitBytes - COLLECTOR_PAYLOAD_RESERVE_BYTES,
    payloadLimitBytes: topo.payloadLimitBytes,
    maxTimeoutMs: collectorTimeoutMs - DEFAULT_COLLECTOR_SAFETY_MARGIN_MS,
    collectorTimeoutMs,
    safetyMarginMs: DEFAULT_COLLECTOR_SAFETY_MARGIN_MS,
  };
}

/**
 * What the schema cannot know: a source the deployed collector could never
 * fetch. Checked here, not in SourceSchema, because a collector payload carries
 * sources too and the collector checks them against its own configured limits.
 */
function beyondCollectorLimits(source: Source, index: number, limits: SourceLimits): string[] {
  const errors: string[] = [];
  if (source.maxBytes !== undefined && source.maxBytes > limits.maxBytes) {
    errors.push(
      `${formatPath(['sources', index, 'maxBytes'])}: must be at most ${limits.maxBytes}, the collector's limit per source (its /tmp shared by its concurrent fetches), got ${source.maxBytes}`,
    );
  }
  const jsonBytes = Buffer.byteLength(JSON.stringify(source), 'utf8');
  if (jsonBytes > limits.maxSourceJsonBytes) {
    errors.push(
      `${formatPath(['sources', index])}: the entry is ${jsonBytes} bytes as JSON, over the ${limits.maxSourceJsonBytes} bytes a collector payload can carry for one source (Lambda's ${limits.payloadLimitBytes}-byte async payload limit, less room for the batch); shorten its headers, query or options`,
    );
  }
  if (source.timeoutMs > limits.maxTimeoutMs) {
    errors.push(
      `${formatPath(['sources', index, 'timeoutMs'])}: must be at most ${limits.maxTimeoutMs} (the collector's ${limits.collectorTimeoutMs} ms timeout minus its ${limits.safetyMarginMs} ms safety margin), got ${source.timeoutMs}`,
    );
  }
  return errors;
}

export interface ManifestCheckOptions {
  /** What the collector can give a source; the deployed topology's by default. */
  readonly limits?: SourceLimits;
  /**
   * The stack's schedule: a source's `every` finer than it is invalid. Without it
   * that comparison (only) is skipped.
   */
  readonly schedule?: Schedule;
}

/** The cadence problem of a valid entry against the stack's schedule (one check per cadence text). */
function cadenceChecker(schedule: Schedule | undefined) {
  const problems = new Map<string, string | undefined>();
  return (every: string | undefined): string | undefined => {
    if (schedule === undefined || every === undefined) return undefined;
    if (!problems.has(every)) {
      const read = readCadence(every);
      problems.set(every, read.ok ? cadenceScheduleProblem(read.cadence, schedule) : undefined);
    }
    return problems.get(every);
  };
}

/**
 * Validates a manifest document. The document as a whole must be well formed
 * (else ContractValidationError); each bad entry is reported by index and id
 * while the valid ones proceed. A repeated id is invalid after its first use, and
 * a source beyond what the collector can give (`sourceLimits`) is invalid too, and so is a
 * source that writes a credential out instead of referencing a secret.
 */
export function parseManifest(
  document: unknown,
  options: ManifestCheckOptions = {},
): ManifestParseResult {
  const top = check(ManifestSchema, document);
  if (!top.ok) throw new ContractValidationError('source manifest', top.issues);
  const origins: Record<string, OriginLimit> = {};
  for (const [key, limit] of Object.entries(top.value.origins ?? {})) {
    origins[originOf(key) ?? key] = limit;
  }
  const sources: Source[] = [];
  const invalid: InvalidSource[] = [];
  const seen = new Set<string>();
  const cadenceProblem = cadenceChecker(options.schedule);
  const limits = options.limits ?? sourceLimits();
  const following = followingIds(top.value.sources);
  top.value.sources.forEach((entry, index) => {
    const result = check(SourceSchema, entry, ['sources', index]);
    const id = idOf(entry);
    if (!result.ok) {
      invalid.push({ index, ...(id ? { id } : {}), errors: result.issues });
      return;
    }
    const beyond = beyondCollectorLimits(result.value, index, limits);
    if (beyond.length > 0) {
      invalid.push({ index, id: result.value.id, errors: beyond });
      return;
    }
    const unsendable = headerValueProblems(result.value, index);
    if (unsendable.length > 0) {
      invalid.push({ index, id: result.value.id, errors: unsendable });
      return;
    }
    const credentials = literalCredentialProblems(result.value, index);
    if (credentials.length > 0) {
      invalid.push({ index, id: result.value.id, errors: credentials });
      return;
    }
    const selectors = selectorProblems(result.value, index);
    if (selectors.length > 0) {
      invalid.push({ index, id: result.value.id, errors: selectors });
      return;
    }
    if (seen.has(result.value.id)) {
      invalid.push({
        index,
        id: result.value.id,
        errors: [
          `${formatPath(['sources', index, 'id'])}: duplicate id, got ${JSON.stringify(result.value.id)}`,
        ],
      });
      return;
    }
    const owner = detailIdOwner(result.value.id, following);
    if (owner !== undefined) {
      invalid.push({
        index,
        id: result.value.id,
        errors: [
          `${formatPath(['sources', index, 'id'])}: is the id of the detail pages of source ${JSON.stringify(owner)}, got ${JSON.stringify(result.value.id)}`,
        ],
      });
      return;
    }
    const problem = cadenceProblem(result.value.every);
    if (problem !== undefined) {
      invalid.push({
        index,
        id: result.value.id,
        errors: [
          `${formatPath(['sources', index, 'every'])}: ${problem}, got ${JSON.stringify(result.value.every)}`,
        ],
      });
      return;
    }
    seen.add(result.value.id);
    sources.push(result.value);
  });
  return { sources, invalid, origins };
}

/**
 * The ids of sources that follow links: `<id>.detail` (their detail records' source) and
 * `<id>.detail.<16 hex>` (their detail tasks) belong to them, so no other source may have one.
 */
function followingIds(entries: readonly unknown[]): Set<string> {
  const ids = new Set<string>();
  for (const entry of entries) {
    const id = idOf(entry);
    if (id !== undefined && typeof entry === 'object' && entry !== null && 'follow' in entry) {
      ids.add(id);
    }
  }
  return ids;
}

/** The source whose detail pages use `id`, when another source has it. */
function detailIdOwner(id: string, following: ReadonlySet<string>): string | undefined {
  const match = /^(.+)\.detail(?:\.[0-9a-f]{16})?$/.exec(id);
  return match?.[1] !== undefined && following.has(match[1]) ? match[1] : undefined;
}

/**
 * The JSON document of a manifest's text; malformed JSON is a ContractValidationError. A
 * UTF-8 byte order mark is skipped (editors on Windows write one; JSON allows a parser to
 * ignore it).
 */
export function manifestDocument(text: string): unknown {
  return parseJson(text.startsWith('\uFEFF') ? text.slice(1) : text, 'source manifest');
}

/** Parses manifest JSON text; malformed JSON is a ContractValidationError. */
export function parseManifestText(
  text: string,
  options: ManifestCheckOptions = {},
): ManifestParseResult {
  return parseManifest(manifestDocument(text), options);
}

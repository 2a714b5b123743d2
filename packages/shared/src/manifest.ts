import * as z from 'zod';
import { ContractValidationError } from './errors.js';
import { SourceIdSchema } from './ids.js';
import { LAMBDA_MAX_TIMEOUT_SECONDS } from './limits.js';
import {
  BasicAuthSchema,
  isCredentialHeader,
  isCredentialQueryName,
  isSecretReference,
  type SecretOrLiteral,
  SecretOrLiteralSchema,
} from './secrets.js';
import { check, formatPath, parseJson } from './validate.js';

export * from './secrets.js';

export const BUILT_IN_FORMATS = ['json', 'ndjson', 'csv', 'rss', 'atom'] as const;
export type BuiltInFormat = (typeof BUILT_IN_FORMATS)[number];

/** A built-in format, or the name of a custom extractor registered in the parser. */
export const FormatSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{0,63}$/,
    `must be one of ${BUILT_IN_FORMATS.join(', ')} or a custom extractor name (lowercase, digits, -)`,
  );

export const HttpUrlSchema = z.string().refine(
  (value) => {
    try {
      const { protocol } = new URL(value);
      return protocol === 'http:' || protocol === 'https:';
    } catch {
      return false;
    }
  },
  { message: 'must be http or https' },
);

const HeaderNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'not a valid header name');

export const FormatOptionsSchema = z
  .object({
    /** Dot path to the array of records in a JSON document, e.g. `data.items`. */
    recordsPath: z.string().min(1).optional(),
    /** CSV field delimiter. */
    delimiter: z.string().length(1, 'must be a single character').optional(),
    /** CSV: first row holds the column names. */
    header: z.boolean().optional(),
    /** CSV: rows with more or fewer fields than the header are accepted (off by default). */
    relaxColumnCount: z.boolean().optional(),
    /** Parser: turns off the leniencies for real-world input (see the parser's README). */
    strict: z.boolean().optional(),
    /** Parser: bytes invalid in the body's encoding quarantine it (`fatal`, default) or become U+FFFD. */
    invalidBytes: z.enum(['fatal', 'replace']).optional(),
  })
  .strict();
export type FormatOptions = z.infer<typeof FormatOptionsSchema>;

export const PaginationSchema = z.discriminatedUnion('type', [
  z.object({
    /** Follows `Link: <url>; rel="next"` response headers. */
    type: z.literal('link-header'),
    maxPages: z.number().int().min(1).max(1000).default(20),
  }),
  z.object({
    /** Follows a URL found at a dot path in a JSON response body. */
    type: z.literal('json-next'),
    path: z.string().min(1),
    maxPages: z.number().int().min(1).max(1000).default(20),
  }),
]);
export type Pagination = z.infer<typeof PaginationSchema>;

export const DEFAULT_SOURCE_TIMEOUT_MS = 10_000;

export const SourceSchema = z
  .object({
    id: SourceIdSchema,
    url: HttpUrlSchema,
    format: FormatSchema,
    /** Header values: literal text, or `{ "secret": "ssm:/name", "prefix": "Bearer " }`. */
    headers: z.record(HeaderNameSchema, SecretOrLiteralSchema).optional(),
    /** Query parameters added to the first request's URL, literal or secret references. */
    query: z.record(z.string().min(1), SecretOrLiteralSchema).optional(),
    /** Basic auth for the source's origin; use it (with secret references) instead of `user:password@`. */
    basicAuth: BasicAuthSchema.optional(),
    /**
     * Lets credentials sit in the manifest as literal text (headers, `user:password@`,
     * query values). For test and demo sources only: the manifest is in git and in S3.
     */
    allowLiteralCredentials: z.boolean().optional(),
    /** Per-request timeout. */
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .max(LAMBDA_MAX_TIMEOUT_SECONDS * 1000)
      .default(DEFAULT_SOURCE_TIMEOUT_MS),
    /** How long a fetch of this source is expected to take; refined by measured runs. */
    expectedDurationMs: z.number().int().positive().optional(),
    /** Largest response body accepted, in bytes. */
    maxBytes: z.number().int().positive().optional(),
    /** Allows loopback and private addresses (SSRF guard off for this source). */
    allowPrivateNetwork: z.boolean().default(false),
    pagination: PaginationSchema.optional(),
    options: FormatOptionsSchema.default({}),
  })
  .strict();
export type Source = z.infer<typeof SourceSchema>;
export type SourceInput = z.input<typeof SourceSchema>;

export const ManifestSchema = z
  .object({
    version: z.literal(1).default(1),
    sources: z.array(z.unknown()),
  })
  .strict();

export interface InvalidSource {
  readonly index: number;
  /** The id, when the entry had a usable one. */
  readonly id?: string;
  readonly errors: readonly string[];
}

export interface ManifestParseResult {
  readonly sources: Source[];
  readonly invalid: InvalidSource[];
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

function idOf(entry: unknown): string | undefined {
  if (typeof entry === 'object' && entry !== null && 'id' in entry) {
    const id = (entry as { id: unknown }).id;
    if (typeof id === 'string' && SourceIdSchema.safeParse(id).success) return id;
  }
  return undefined;
}

/**
 * Validates a manifest document. The document as a whole must be well formed
 * (else ContractValidationError); each bad entry is reported by index and id
 * while the valid ones proceed. A repeated id is invalid after its first use, and
 * so is a source that writes a credential out instead of referencing a secret.
 */
export function parseManifest(document: unknown): ManifestParseResult {
  const top = check(ManifestSchema, document);
  if (!top.ok) throw new ContractValidationError('source manifest', top.issues);
  const sources: Source[] = [];
  const invalid: InvalidSource[] = [];
  const seen = new Set<string>();
  top.value.sources.forEach((entry, index) => {
    const result = check(SourceSchema, entry, ['sources', index]);
    const id = idOf(entry);
    if (!result.ok) {
      invalid.push({ index, ...(id ? { id } : {}), errors: result.issues });
      return;
    }
    const credentials = literalCredentialProblems(result.value, index);
    if (credentials.length > 0) {
      invalid.push({ index, id: result.value.id, errors: credentials });
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
    seen.add(result.value.id);
    sources.push(result.value);
  });
  return { sources, invalid };
}

/** Parses manifest JSON text; malformed JSON is a ContractValidationError. */
export function parseManifestText(text: string): ManifestParseResult {
  return parseManifest(parseJson(text, 'source manifest'));
}

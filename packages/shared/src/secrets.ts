import * as z from 'zod/mini';

/**
 * Secrets by reference. A manifest names where a credential lives, never the
 * credential itself; the collector resolves the reference when it fetches:
 *
 *   "ssm:/fanout/api-token"            an SSM Parameter Store parameter (SecureString
 *                                      decrypted), by name
 *   "secretsmanager:fanout/partner"    a Secrets Manager secret (AWSCURRENT), by name or ARN
 *
 * `key` picks one field of a secret whose value is a JSON object; `prefix` is put
 * in front of the resolved value (`"Bearer "`).
 */
export const SECRET_SERVICES = ['ssm', 'secretsmanager'] as const;
export type SecretService = (typeof SECRET_SERVICES)[number];

export interface ParsedSecretReference {
  readonly service: SecretService;
  /** Parameter name, or secret name or ARN. */
  readonly name: string;
}

const SSM_NAME = /^\/?[A-Za-z0-9_.\-/]{1,2048}$/;
const SECRET_ID = /^[A-Za-z0-9/_+=.@:\-!]{1,2048}$/;

/** `ssm:/a/b` -> { service: 'ssm', name: '/a/b' }; undefined when it is not a reference. */
export function parseSecretReference(reference: string): ParsedSecretReference | undefined {
  const colon = reference.indexOf(':');
  if (colon < 0) return undefined;
  const service = reference.slice(0, colon);
  const name = reference.slice(colon + 1);
  if (service === 'ssm' && SSM_NAME.test(name) && !name.includes('//')) {
    return { service, name };
  }
  if (service === 'secretsmanager' && SECRET_ID.test(name)) return { service, name };
  return undefined;
}

export const SecretReferenceSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    /** `ssm:<parameter name>` or `secretsmanager:<secret name or ARN>`. */
    secret: z
      .string()
      .check(
        z.refine(
          (value) => parseSecretReference(value) !== undefined,
          'must be "ssm:<parameter name>" or "secretsmanager:<secret name or ARN>"',
        ),
      ),
    /** The field to read when the secret's value is a JSON object. */
    key: z.optional(z.string().check(z.minLength(1))),
    /** Put in front of the resolved value, e.g. "Bearer ". */
    prefix: z.optional(z.string()),
  }),
);
export type SecretReference = z.infer<typeof SecretReferenceSchema>;

/** A header or query value: literal text, or a reference to a secret. */
export const SecretOrLiteralSchema = /* @__PURE__ */ z.lazy(() =>
  z.union([z.string(), SecretReferenceSchema], {
    error: 'must be text or a secret reference {"secret": "ssm:<name>" or "secretsmanager:<name>"}',
  }),
);
export type SecretOrLiteral = z.infer<typeof SecretOrLiteralSchema>;

/** HTTP basic auth, sent as `Authorization: Basic ...` to the source's origin only. */
export const BasicAuthSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    username: SecretOrLiteralSchema,
    password: SecretOrLiteralSchema,
  }),
);
export type BasicAuth = z.infer<typeof BasicAuthSchema>;

export function isSecretReference(value: SecretOrLiteral): value is SecretReference {
  return typeof value !== 'string';
}

/** Header names whose values are credentials: they may only reference a secret. */
export function isCredentialHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return (
    lower === 'authorization' ||
    lower === 'proxy-authorization' ||
    lower === 'cookie' ||
    /token|secret|key|auth|password|session/.test(lower)
  );
}

/** Query parameter names whose values are credentials (`api_key`, `access_token`, `sig`). */
export function isCredentialQueryName(name: string): boolean {
  return /token|secret|key|auth|password|passwd|signature|^sig$|session/.test(name.toLowerCase());
}

/** Every secret reference a source makes, where in the source it is (for grants and checks). */
export function secretReferencesOf(source: {
  readonly headers?: Readonly<Record<string, SecretOrLiteral>> | undefined;
  readonly query?: Readonly<Record<string, SecretOrLiteral>> | undefined;
  readonly basicAuth?: BasicAuth | undefined;
}): SecretReference[] {
  const values: SecretOrLiteral[] = [
    ...Object.values(source.headers ?? {}),
    ...Object.values(source.query ?? {}),
    ...(source.basicAuth ? [source.basicAuth.username, source.basicAuth.password] : []),
  ];
  return values.filter(isSecretReference);
}

/** The literal header values of a source: what is left once its references are resolved. */
export function literalHeaders(
  headers: Readonly<Record<string, SecretOrLiteral>> | undefined,
): Record<string, string> | undefined {
  if (headers === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(headers).filter(
      (entry): entry is [string, string] => !isSecretReference(entry[1]),
    ),
  );
}

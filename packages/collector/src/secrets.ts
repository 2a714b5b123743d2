import {
  type Clock,
  type CollectorTask,
  isSecretReference,
  parseSecretReference,
  type SecretOrLiteral,
  type SecretReference,
  type Source,
} from '@fanout/shared';
import { SourceFetchError } from './errors.js';
import type { SecretHeaderNames } from './origin.js';

/**
 * Where secret values come from: SSM Parameter Store and Secrets Manager (see
 * aws-secret-store.ts), or a fake in tests. A failure is thrown as the service's
 * error, whose `name` is its error code (`ParameterNotFound`, `AccessDeniedException`).
 */
export interface SecretStore {
  /** A parameter's value, SecureString decrypted. */
  getParameter(name: string): Promise<string>;
  /** A secret's current SecretString (a binary secret read as UTF-8). */
  getSecretString(id: string): Promise<string>;
}

/**
 * A store built by `load` when the first secret is read, then kept for the execution
 * environment: a batch whose sources reference no secret never loads what the store needs
 * (the handler's SSM and Secrets Manager clients). A failed load is tried again next read.
 */
export function lazySecretStore(load: () => Promise<SecretStore>): SecretStore {
  let loading: Promise<SecretStore> | undefined;
  const store = (): Promise<SecretStore> => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
  return {
    getParameter: async (name) => (await store()).getParameter(name),
    getSecretString: async (id) => (await store()).getSecretString(id),
  };
}

/** What reading a secret needs in IAM, for error messages. */
const PERMISSION = {
  ssm: 'ssm:GetParameter',
  secretsmanager: 'secretsmanager:GetSecretValue',
} as const;

const NOT_FOUND = new Set([
  'ParameterNotFound',
  'ParameterVersionNotFound',
  'ResourceNotFoundException',
]);
const DENIED = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnauthorizedOperation',
  'DecryptionFailure',
  'InvalidKeyId',
  'KMSAccessDeniedException',
]);

/**
 * A reference a source makes could not be turned into a value. Fails that source
 * only. The message names the reference and never a value: it is recorded and logged.
 */
export class SecretReferenceError extends SourceFetchError {
  override name = 'SecretReferenceError';
  constructor(
    sourceId: string,
    readonly reference: string,
    reason: string,
  ) {
    super(sourceId, `secret ${reference} ${reason}`);
  }
}

export class SecretNotFoundError extends SecretReferenceError {
  override name = 'SecretNotFoundError';
  constructor(sourceId: string, reference: string, code: string) {
    super(sourceId, reference, `does not exist (${code}); create it or fix the reference`);
  }
}

export class SecretAccessDeniedError extends SecretReferenceError {
  override name = 'SecretAccessDeniedError';
  constructor(sourceId: string, reference: string, code: string, permission: string) {
    super(
      sourceId,
      reference,
      `is not readable (${code}); the collector's role needs ${permission} on it (and kms:Decrypt with a customer managed key)`,
    );
  }
}

export class SecretKeyMissingError extends SecretReferenceError {
  override name = 'SecretKeyMissingError';
  constructor(sourceId: string, reference: string, key: string, isObject: boolean) {
    super(
      sourceId,
      reference,
      isObject
        ? `has no JSON key ${JSON.stringify(key)}`
        : `is not a JSON object, so it has no key ${JSON.stringify(key)}`,
    );
  }
}

export class SecretUnavailableError extends SecretReferenceError {
  override name = 'SecretUnavailableError';
  constructor(sourceId: string, reference: string, code: string, permission: string) {
    super(sourceId, reference, `could not be read (${code}; needs ${permission})`);
  }
}

function errorCode(error: unknown): string {
  if (error instanceof Error && error.name !== 'Error') return error.name;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UnknownError';
}

export interface SecretResolverOptions {
  readonly store: SecretStore;
  /** How long a value read is reused; 0 reads the store for every task. */
  readonly ttlMs: number;
  readonly clock: Clock;
}

interface CacheEntry {
  readonly expiresAt: number;
  readonly value: Promise<string>;
}

/**
 * Resolves secret references, reading each secret at most once per TTL per
 * execution environment (concurrent tasks share one read in flight). Failed
 * reads are not cached, so a secret created or a grant fixed is picked up next time.
 */
export class SecretResolver {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(private readonly options: SecretResolverOptions) {}

  /** The secret's whole value, from the cache when fresh. */
  private read(reference: string): Promise<string> {
    const now = this.options.clock.now();
    const cached = this.cache.get(reference);
    if (cached && cached.expiresAt > now) return cached.value;
    const parsed = parseSecretReference(reference);
    if (parsed === undefined) return Promise.reject(new Error('MalformedReference'));
    const { store } = this.options;
    const value =
      parsed.service === 'ssm'
        ? store.getParameter(parsed.name)
        : store.getSecretString(parsed.name);
    const entry = { expiresAt: now + this.options.ttlMs, value };
    this.cache.set(reference, entry);
    value.catch(() => {
      if (this.cache.get(reference) === entry) this.cache.delete(reference);
    });
    return value;
  }

  /** The value a reference stands for: the secret, or one key of it, behind its prefix. */
  async resolve(sourceId: string, reference: SecretReference): Promise<string> {
    const service = parseSecretReference(reference.secret)?.service ?? 'ssm';
    let whole: string;
    try {
      whole = await this.read(reference.secret);
    } catch (error) {
      const code = errorCode(error);
      if (NOT_FOUND.has(code)) throw new SecretNotFoundError(sourceId, reference.secret, code);
      if (DENIED.has(code)) {
        throw new SecretAccessDeniedError(sourceId, reference.secret, code, PERMISSION[service]);
      }
      throw new SecretUnavailableError(sourceId, reference.secret, code, PERMISSION[service]);
    }
    const value = reference.key === undefined ? whole : keyOf(sourceId, reference, whole);
    return `${reference.prefix ?? ''}${value}`;
  }
}

function keyOf(sourceId: string, reference: SecretReference, whole: string): string {
  const key = reference.key ?? '';
  let document: unknown;
  try {
    document = JSON.parse(whole);
  } catch {
    throw new SecretKeyMissingError(sourceId, reference.secret, key, false);
  }
  const isObject = typeof document === 'object' && document !== null && !Array.isArray(document);
  const value = isObject ? (document as Record<string, unknown>)[key] : undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new SecretKeyMissingError(sourceId, reference.secret, key, isObject);
}

export interface ResolvedTask {
  /**
   * The task as it is fetched: every reference replaced by its value, in memory only, and
   * the headers whose values came from a secret named (they stay with the source's origin).
   */
  readonly task: CollectorTask & Required<SecretHeaderNames>;
  /** Every value that came from a secret, to scrub from anything written down. */
  readonly secrets: readonly string[];
}

/**
 * The task with its source's references resolved: header values, query values
 * (added to the URL of the first request) and basic auth (an Authorization header
 * for the source's origin, unless the source sets Authorization itself). A task
 * without references comes back as it is, with no store read.
 */
export async function resolveTask(
  task: CollectorTask,
  resolver: SecretResolver | undefined,
): Promise<ResolvedTask> {
  const { source } = task;
  const secrets: string[] = [];
  const resolveValue = async (value: SecretOrLiteral): Promise<string> => {
    if (!isSecretReference(value)) return value;
    if (resolver === undefined) {
      throw new SecretReferenceError(source.id, value.secret, 'cannot be read: no secret store');
    }
    const resolved = await resolver.resolve(source.id, value);
    secrets.push(resolved);
    if (value.prefix !== undefined) secrets.push(resolved.slice(value.prefix.length));
    return resolved;
  };
  const headers: Record<string, string> = {};
  const secretHeaders: string[] = [];
  for (const [name, value] of Object.entries(source.headers ?? {})) {
    headers[name] = await resolveValue(value);
    if (isSecretReference(value)) secretHeaders.push(name);
  }
  const url = new URL(source.url);
  for (const [name, value] of Object.entries(source.query ?? {})) {
    url.searchParams.append(name, await resolveValue(value));
  }
  if (source.basicAuth) {
    const username = await resolveValue(source.basicAuth.username);
    const password = await resolveValue(source.basicAuth.password);
    const basic = Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
    secrets.push(basic);
    const hasAuthorization = Object.keys(headers).some((n) => n.toLowerCase() === 'authorization');
    if (!hasAuthorization) headers.Authorization = `Basic ${basic}`;
  }
  const { headers: _h, query: _q, basicAuth: _b, ...rest } = source;
  const resolved: Source = {
    ...rest,
    url: source.query ? url.href : source.url,
    ...(source.headers || source.basicAuth ? { headers } : {}),
  };
  // Each secret also as it appears URL-encoded (a query value in a logged URL).
  const all = secrets.flatMap((s) => [s, encodeURIComponent(s)]).filter((s) => s.length > 0);
  return { task: { ...task, source: resolved, secretHeaders }, secrets: [...new Set(all)] };
}

/** Replaces every secret value in `text`, longest first, with `[secret]`. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join('[secret]');
  }
  return out;
}

import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import { LocalSecretsFileError } from './errors.js';

/**
 * The local secrets file (`<FANOUT_HOME>/secrets.json`, git-ignored with the rest
 * of `.fanout/`):
 *
 *   {
 *     "ssm": { "/fanout/api-token": "value" },                 SecureString, version 1
 *     "secretsmanager": { "fanout/partner": {"user": "u", "password": "p"} },
 *     "denied": ["ssm:/fanout/locked"]                          answered AccessDeniedException
 *   }
 *
 * A parameter may also be `{ "value": "...", "type": "String", "previous": ["v1"] }` (earlier
 * versions, oldest first, readable as `name:1`); a secret may be a
 * string (SecretString as is) or a JSON object (stored as its JSON text).
 */
const ParameterSchema = z.union([
  z.string(),
  z
    .object({
      value: z.string(),
      type: z.enum(['String', 'StringList', 'SecureString']).default('SecureString'),
      /** Earlier values, oldest first: versions 1, 2, ...; `value` is the latest. */
      previous: z.array(z.string()).default([]),
    })
    .strict(),
]);

export const SecretsFileSchema = z
  .object({
    ssm: z.record(z.string().min(1), ParameterSchema).default({}),
    secretsmanager: z
      .record(z.string().min(1), z.union([z.string(), z.record(z.string(), z.unknown())]))
      .default({}),
    denied: z.array(z.string()).default([]),
  })
  .strict();

export interface LocalParameter {
  readonly name: string;
  readonly type: 'String' | 'StringList' | 'SecureString';
  readonly value: string;
  /** Every value, oldest first (version n is `versions[n - 1]`); the last is `value`. */
  readonly versions: readonly string[];
}

export interface LocalSecret {
  readonly name: string;
  readonly secretString: string;
}

export interface LocalSecretsContents {
  parameter(name: string): LocalParameter | undefined;
  secret(id: string): LocalSecret | undefined;
  /** Whether the reference (`ssm:<name>` or `secretsmanager:<name>`) is denied. */
  denied(reference: string): boolean;
}

/** A secret's name from its name or its ARN (`arn:...:secret:<name>-AbCdEf`). */
function secretName(id: string, names: readonly string[]): string | undefined {
  if (names.includes(id)) return id;
  const arn = /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(.+)$/.exec(id)?.[1];
  if (arn === undefined) return undefined;
  return names.find(
    (name) =>
      arn === name ||
      (arn.startsWith(`${name}-`) && /^[A-Za-z0-9]{6}$/.test(arn.slice(name.length + 1))),
  );
}

/**
 * Reads the file on every call, so an edit takes effect at the next request and no
 * value is held in memory between requests. No file is an empty store.
 */
export async function readSecretsFile(file: string): Promise<LocalSecretsContents> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    text = '{}';
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new LocalSecretsFileError(file, 'is not JSON');
  }
  const parsed = SecretsFileSchema.safeParse(document);
  if (!parsed.success) {
    // Paths only: the issues' messages could quote a value.
    const paths = parsed.error.issues.map((issue) => issue.path.join('.') || '(top level)');
    throw new LocalSecretsFileError(file, `has invalid entries at ${paths.join(', ')}`);
  }
  const { ssm, secretsmanager, denied } = parsed.data;
  return {
    parameter(name) {
      const entry = ssm[name];
      if (entry === undefined) return undefined;
      return typeof entry === 'string'
        ? { name, type: 'SecureString', value: entry, versions: [entry] }
        : {
            name,
            type: entry.type,
            value: entry.value,
            versions: [...entry.previous, entry.value],
          };
    },
    secret(id) {
      const name = secretName(id, Object.keys(secretsmanager));
      const entry = name === undefined ? undefined : secretsmanager[name];
      if (name === undefined || entry === undefined) return undefined;
      return { name, secretString: typeof entry === 'string' ? entry : JSON.stringify(entry) };
    },
    denied: (reference) => denied.includes(reference),
  };
}

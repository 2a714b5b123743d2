import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { ContractValidationError } from './errors.js';
import { REDACTED } from './redact.js';
import { redactForMessage } from './redact-payload.js';

const MAX_SHOWN_VALUE_LENGTH = 80;

// zod/mini (the contract's schemas; see index.ts) words issues only with a locale loaded:
// English, as the full zod words them. Every check goes through this module.
z.config(en());

/** `['sources', 3, 'url']` -> `sources[3].url`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

/**
 * The offending value as an error shows it: redacted first (`redactForMessage`), since a
 * message ends up in logs, run records and terminals, and the value may be a credential.
 */
function showValue(value: unknown, path: readonly PropertyKey[]): string {
  if (value === undefined) return 'nothing';
  // JSON.stringify would show NaN and Infinity as `null`.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  const shown = redactForMessage(value, path);
  if (shown === REDACTED && value !== REDACTED) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    return `${kind} (not shown: it may be a credential)`;
  }
  let text: string;
  try {
    text = JSON.stringify(shown) ?? String(shown);
  } catch {
    text = String(shown);
  }
  return text.length > MAX_SHOWN_VALUE_LENGTH
    ? `${text.slice(0, MAX_SHOWN_VALUE_LENGTH - 3)}...`
    : text;
}

/**
 * The value the message is about. A discriminated union reports the whole object
 * as its input, with the discriminator as the path: show the discriminator's value.
 */
function offendingValue(issue: z.core.$ZodIssue): unknown {
  if (issue.code === 'invalid_union' && issue.discriminator !== undefined) {
    const { input } = issue;
    if (typeof input === 'object' && input !== null) {
      return (input as Record<string, unknown>)[issue.discriminator];
    }
  }
  return issue.input;
}

/** One line per issue: `sources[3].url: must be http or https, got "ftp://x"`. */
export function describeIssues(
  error: z.core.$ZodError,
  basePath: readonly PropertyKey[] = [],
): string[] {
  return error.issues.map((issue) => {
    const at = [...basePath, ...issue.path];
    const path = formatPath(at);
    // A bad key (a header name, say) is a name, never a credential: shown as it is.
    const shownAt = issue.code === 'invalid_key' ? [] : at;
    const got = 'input' in issue ? `, got ${showValue(offendingValue(issue), shownAt)}` : '';
    return `${path}: ${issue.message}${got}`;
  });
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; issues: string[] };

/** Validates without throwing; issues name the field and the offending value. */
export function check<S extends z.core.$ZodType>(
  schema: S,
  value: unknown,
  basePath: readonly PropertyKey[] = [],
): ParseResult<z.output<S>> {
  const result = z.safeParse(schema, value, { reportInput: true });
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: describeIssues(result.error, basePath) };
}

/** Validates or throws a ContractValidationError naming `subject`. */
export function parse<S extends z.core.$ZodType>(
  schema: S,
  value: unknown,
  subject: string,
): z.output<S> {
  const result = check(schema, value);
  if (!result.ok) throw new ContractValidationError(subject, result.issues);
  return result.value;
}

/** Parses JSON text, turning a syntax error into a ContractValidationError. */
export function parseJson(text: string, subject: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ContractValidationError(subject, [`(root): not valid JSON (${reason})`]);
  }
}

import { parseArgs } from 'node:util';
import { check, RunIdSchema } from '@fanout/shared';
import { UsageError } from '../errors.js';

type Spec = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

/** parseArgs with errors turned into one clear line. */
export function parseCommandArgs<O extends Spec>(
  command: string,
  argv: string[],
  options: O,
  maxPositionals = 0,
) {
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    if (parsed.positionals.length > maxPositionals) {
      throw new UsageError(
        `${command}: unexpected argument ${JSON.stringify(parsed.positionals[maxPositionals])}`,
        `see: fanout help`,
      );
    }
    return parsed;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${command}: ${message.split('\n')[0]}`, 'see: fanout help');
  }
}

export function intOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(value)}`);
  }
  return n;
}

export function timeOption(value: string | undefined): Date {
  if (value === undefined) {
    const now = new Date();
    now.setUTCMilliseconds(0);
    return now;
  }
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) {
    throw new UsageError(
      `--time must be an ISO time such as 2026-11-25T13:10:00Z, got ${JSON.stringify(value)}`,
    );
  }
  return time;
}

/** A run id given on the command line, checked before anything is read (a path is not one). */
export function runIdArgument(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const result = check(RunIdSchema, value);
  if (!result.ok) {
    throw new UsageError(
      `invalid run id ${JSON.stringify(value)}: must be 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit`,
      'list the runs: fanout runs',
    );
  }
  return value;
}

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';

const PROJECT_DIR = path.resolve(__dirname, '..', '..');

/** A stack file's `fanout:*` values keyed by short name, as `pulumi.Config('fanout')` sees them. */
export function stackValues(file: string): Record<string, string> {
  const stack = parse(readFileSync(path.join(PROJECT_DIR, file), 'utf8')) as {
    config: Record<string, unknown>;
  };
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(stack.config)) {
    const [namespace, name] = key.split(':');
    if (namespace === 'fanout' && name !== undefined) values[name] = String(value);
  }
  return values;
}

import { PassThrough } from 'node:stream';
import { expect } from 'vitest';
import { main } from '../../src/cli.js';
import type { Io } from '../../src/commands/run.js';

export interface Captured {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one `fanout` command line in this process, its output captured. */
export async function fanout(...argv: string[]): Promise<Captured> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await main(argv, { stdout, stderr } as unknown as Io);
  return {
    code,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  };
}

/** The error line (`fanout: ...`), with at most an indented hint after it and no stack frames. */
export function expectOneErrorLine(result: Captured): string {
  const lines = result.stderr.trimEnd().split('\n');
  const errorLines = lines.filter((line) => line.startsWith('fanout: '));
  expect(errorLines, result.stderr).toHaveLength(1);
  expect(lines[0], result.stderr).toBe(errorLines[0]);
  expect(lines.length, result.stderr).toBeLessThanOrEqual(2);
  for (const line of lines.slice(1)) expect(line).toMatch(/^ {2}\S/);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  return errorLines[0] ?? '';
}

import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ChildOutput {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Built next to bench.mjs from src/parser-child.ts. */
export const PARSER_CHILD = join(dirname(fileURLToPath(import.meta.url)), 'parser-child.mjs');

/** What a gated child prints once it is set up; it then waits for a line on its stdin. */
export const READY_LINE = 'READY';

function spawnNode(
  args: readonly string[],
  env: Record<string, string | undefined>,
  nodeOptions: readonly string[],
  stdin: 'ignore' | 'pipe',
): { child: ChildProcess; done: Promise<ChildOutput>; stdout: () => string } {
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeOptions, ...args], {
    env,
    stdio: [stdin, 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (stderr.length > 64 * 1024) stderr = stderr.slice(-32 * 1024);
  });
  const done = new Promise<ChildOutput>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started }),
    );
  });
  return { child, done, stdout: () => stdout };
}

/** Runs a node process to its end and collects its output (never throws for a failing child). */
export function runNode(
  args: readonly string[],
  env: Record<string, string | undefined>,
  nodeOptions: readonly string[] = [],
): Promise<ChildOutput> {
  return spawnNode(args, env, nodeOptions, 'ignore').done;
}

/**
 * Runs several node processes whose measured work must overlap: each sets itself up (node,
 * its bundle, its clients), prints READY and waits; once all are ready, all are released at
 * once. Process start-up, which varies by hundreds of milliseconds on a busy machine, is
 * then outside every child's measured window.
 */
export async function runNodesTogether(
  argsList: readonly (readonly string[])[],
  env: Record<string, string | undefined>,
): Promise<ChildOutput[]> {
  const children = argsList.map((args) => spawnNode(args, env, [], 'pipe'));
  const ready = children.map(
    ({ child, done, stdout }) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (stdout().split('\n').includes(READY_LINE)) {
            child.stdout?.off('data', check);
            resolve();
          }
        };
        child.stdout?.on('data', check);
        done.then((out) =>
          reject(new Error(`child exited before it was ready: ${out.stderr.slice(-500)}`)),
        );
      }),
  );
  try {
    await Promise.all(ready);
  } catch (error) {
    for (const { child } of children) child.kill();
    throw error;
  }
  for (const { child } of children) child.stdin?.end('\n');
  return Promise.all(children.map(({ done }) => done));
}

/** The gated child's side: says it is ready and waits to be released. */
export async function waitForRelease(): Promise<void> {
  process.stdout.write(`${READY_LINE}\n`);
  await new Promise<void>((resolve) => {
    process.stdin.once('data', () => resolve());
    process.stdin.once('end', () => resolve());
  });
  process.stdin.pause();
}

/** Line prefix of a child's result on its stdout. */
export const RESULT_PREFIX = 'RESULT ';

/** The result a child printed, or an error naming `work` and the end of its stderr. */
export function resultOf<T>(work: string, out: ChildOutput): T {
  const line = out.stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
  if (out.code !== 0 || line === undefined) {
    throw new Error(`child ${work} failed (exit ${out.code}): ${out.stderr.slice(-500)}`);
  }
  return JSON.parse(line.slice(RESULT_PREFIX.length)) as T;
}

/**
 * A child process's entry: prints `RESULT <json>` of what `work` returns for the command-line
 * arguments and exits 0; exits 2 when `work` does not know them (undefined), 1 when it throws.
 */
export function childMain(work: (args: string[]) => Promise<unknown>): void {
  const args = process.argv.slice(2);
  work(args).then(
    (result) => {
      if (result === undefined) {
        process.stderr.write(`bad child arguments: ${JSON.stringify(args)}\n`);
        process.exit(2);
      }
      process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(
        `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Log } from '@fanout/shared';
import type { Figure } from './report.js';

/** How big and how often: the full suite, or the small version CI runs. */
export interface BenchMode {
  readonly quick: boolean;
  /** Progress lines go here (stderr), never into the table. */
  readonly progress: (line: string) => void;
}

export interface CaseResult {
  readonly figures: Figure[];
  /** Case-specific details kept in the JSON (configuration, ratios, breakdowns). */
  readonly details: Record<string, unknown>;
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

/** Runs `work` with a fresh temporary folder that is deleted afterwards. */
export async function withTempDir<T>(
  prefix: string,
  work: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `fanout-bench-${prefix}-`));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A repetition that failed and was run again, kept in the results. */
export interface RetriedFailure {
  readonly label: string;
  readonly run: number;
  readonly error: string;
}

/**
 * Runs `work` `times` times. A repetition that throws is run once more (the
 * local S3 server sometimes answers a read that races a write with a 500);
 * every such failure is reported in `failures`, and a second failure fails the case.
 */
export async function repeat<T>(
  times: number,
  label: string,
  mode: BenchMode,
  work: (index: number) => Promise<T>,
  failures: RetriedFailure[] = [],
): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < times; i += 1) {
    const started = Date.now();
    try {
      out.push(await work(i));
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      failures.push({ label, run: i + 1, error: message });
      mode.progress(`  ${label} ${i + 1}/${times} failed (${message}); running it again`);
      out.push(await work(i));
    }
    mode.progress(`  ${label} ${i + 1}/${times} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
  return out;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `done` until it holds; returns the milliseconds since `since`. */
export async function waitFor(done: () => boolean, since: number, everyMs = 5): Promise<number> {
  while (!done()) await sleep(everyMs);
  return Date.now() - since;
}

/**
 * `contents` bundled and minified as the function bundles are (ESM for node22), resolved from
 * `resolveDir`: the bytes, for a size, or (with the functions' `require` banner, which CommonJS
 * dependencies need) for a file to import.
 */
export async function minifiedBundle(
  contents: string,
  resolveDir: string,
  options: { readonly importable?: boolean } = {},
): Promise<Uint8Array> {
  const { build } = await import('esbuild');
  const out = await build({
    stdin: { contents, resolveDir },
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    mainFields: ['module', 'main'],
    legalComments: 'none',
    ...(options.importable
      ? {
          banner: {
            js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);",
          },
        }
      : {}),
    write: false,
  });
  return out.outputFiles[0]?.contents ?? new Uint8Array();
}

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

export async function repeat<T>(
  times: number,
  label: string,
  mode: BenchMode,
  work: (index: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < times; i += 1) {
    const started = Date.now();
    out.push(await work(i));
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

import { appendFileSync } from 'node:fs';

/**
 * A collector stand-in for the dispatch benchmark: it does no work, only notes
 * the batch it was given, so what is measured is the manager and the Invoke path.
 * Lines are shorter than PIPE_BUF, so appends from concurrent workers never interleave.
 */
const countFile = process.env.BENCH_COUNT_FILE;

export async function handler(event: { batchId?: unknown }): Promise<{ ok: true }> {
  if (countFile) appendFileSync(countFile, `${String(event.batchId)}\n`);
  return { ok: true };
}

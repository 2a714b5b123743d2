import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resultOf, runNode } from '../child.js';
import { type BenchMode, type CaseResult, minifiedBundle, withTempDir } from '../common.js';
import type { Figure } from '../report.js';
import { median } from '../stats.js';
import {
  CONFORMANCE,
  type ConformanceResult,
  CSV_MODULES,
  CSV_READERS,
  type ThroughputResult,
} from './csv-libraries-work.js';
import { writeInput } from './parser-work.js';

const CASE = '7 CSV libraries';
const MB = 1024 * 1024;
/** Built next to bench.mjs from src/csv-child.ts. */
const CSV_CHILD = join(dirname(fileURLToPath(import.meta.url)), 'csv-child.mjs');
/** packages/bench, where the libraries resolve from. */
const BENCH_PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The library the parser uses, as it uses it: every ratio is to this one. */
const BASELINE = 'csv-parse 6.2.1 in the parser extractor';

/** Minified size of a bundle that holds `module` alone, built as the function bundles are. */
async function bundleBytes(module: string): Promise<number> {
  const contents = `import * as m from ${JSON.stringify(module)}; globalThis.__m = m;`;
  return (await minifiedBundle(contents, BENCH_PACKAGE)).length;
}

async function csvChild<T>(args: string[]): Promise<T> {
  return resultOf<T>(args.slice(0, 2).join(' '), await runNode([CSV_CHILD, ...args], process.env));
}

/**
 * The CSV libraries on npm, on the benchmark's CSV input (the parser case's generator): each
 * library alone, reading records from the file's chunks, in a fresh process per measurement,
 * the libraries interleaved within each repetition. Beside it, what each does with RFC 4180
 * input and bad input, and its minified size.
 */
export async function csvLibrariesCase(mode: BenchMode): Promise<CaseResult> {
  const sizeMb = mode.quick ? 10 : 100;
  const reps = mode.quick ? 1 : 3;
  const names = Object.keys(CSV_READERS);
  mode.progress(`case ${CASE}: ${names.length} readers, ${sizeMb} MB, ${reps} run(s) each`);
  const runs = new Map<string, ThroughputResult[]>(names.map((name) => [name, []]));
  await withTempDir('csv', async (dir) => {
    const file = join(dir, 'input.csv');
    await writeInput(file, 'csv', sizeMb * MB);
    for (let rep = 0; rep < reps; rep += 1) {
      for (const name of names) {
        runs.get(name)?.push(await csvChild<ThroughputResult>(['throughput', name, file]));
      }
      mode.progress(`  run ${rep + 1}/${reps}`);
    }
  });
  const checks = new Map<string, ConformanceResult>();
  const sizes = new Map<string, number>();
  for (const name of names) {
    checks.set(name, await csvChild<ConformanceResult>(['conformance', name]));
    sizes.set(name, await bundleBytes(CSV_MODULES[name] ?? name));
  }

  const baseline = runs.get(BASELINE) ?? [];
  const expectedRecords = baseline[0]?.records;
  const mbPerS = (r: ThroughputResult, ms: number) => r.bytes / MB / (ms / 1000);
  const figures: Figure[] = names.flatMap((name): Figure[] => {
    const list = runs.get(name) ?? [];
    const check = checks.get(name);
    const misread = list.some((r) => r.records !== expectedRecords);
    return [
      {
        caseId: CASE,
        metric: `${name}: MB/s`,
        unit: 'MB/s',
        samples: list.map((r) => mbPerS(r, r.wallMs)),
        ...(misread ? { note: `read ${list[0]?.records} records, not ${expectedRecords}` } : {}),
      },
      {
        caseId: CASE,
        metric: `${name}: MB per CPU-second`,
        unit: 'MB/s',
        samples: list.map((r) => mbPerS(r, r.cpuMs)),
      },
      {
        caseId: CASE,
        metric: `${name}: speed vs the parser extractor (CPU time)`,
        unit: 'x',
        // Same repetition, so the same load on the machine.
        samples: list.map((r, i) => (baseline[i]?.cpuMs ?? Number.NaN) / r.cpuMs),
      },
      {
        caseId: CASE,
        metric: `${name}: checks passed of ${CONFORMANCE.length}`,
        unit: '',
        samples: [check?.passed.length ?? 0],
        ...(check && check.failed.length > 0 ? { note: `failed: ${check.failed.join(', ')}` } : {}),
      },
      {
        caseId: CASE,
        metric: `${name}: minified size`,
        unit: 'KB',
        samples: [(sizes.get(name) ?? 0) / 1024],
      },
    ];
  });
  return {
    figures,
    details: {
      inputMb: sizeMb,
      records: expectedRecords,
      how: 'each library alone on the parser case CSV input (header row, 5 columns, one quoted), read from a file stream in 64 KB chunks into objects of string fields, in a fresh node process (dist/csv-child.mjs) per run, the libraries interleaved; CPU = user + system of that process; checks = RFC 4180 inputs (quoted newlines, escaped quotes, CRLF) and bad input (unclosed quote, extra field) that must be rejected, each whole and one byte per chunk; size = esbuild --bundle --minify of the module alone',
      medianCpuMs: Object.fromEntries(
        names.map((name) => [name, median((runs.get(name) ?? []).map((r) => r.cpuMs))]),
      ),
      checks: Object.fromEntries(checks),
      lastRecord: Object.fromEntries(names.map((name) => [name, runs.get(name)?.[0]?.last])),
    },
  };
}

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { rawKey, toS3Metadata } from '@fanout/shared';
import { startTestS3, type TestS3 } from '@fanout/testkit';
import { PARSER_CHILD, RESULT_PREFIX, resultOf, runNode } from '../child.js';
import { type BenchMode, type CaseResult, withTempDir } from '../common.js';
import type { Figure } from '../report.js';
import { PROGRESS_PREFIX } from './parser-child.js';
import {
  ENVELOPE,
  FORMAT_OPTIONS,
  type InputFormat,
  type PerObjectResult,
  type SmallObjectKind,
  type WorkResult,
  writeInput,
} from './parser-work.js';

const CASE = '3 parser';
const MB = 1024 * 1024;
const MB_PER_S_TARGET = 50;
const RSS_TARGET_MB = 128;
const PER_OBJECT_CPU_TARGET_MS = 5;
const SMALL_KINDS: readonly SmallObjectKind[] = ['ndjson', 'csv', 'pack'];
/** Heap cap of the naive version's process: generous, so it fails only where the approach does. */
const NAIVE_HEAP_MB = 4_096;
/**
 * The streaming parser runs with the heap bound the local Lambda gives a 256 MB
 * function (old generation = memory - 16 MB young generation), as it would in a
 * function; without a bound V8 lets garbage pile up on a 24 GB machine.
 */
const FUNCTION_HEAP_FLAGS = ['--max-old-space-size=240', '--max-semi-space-size=8'];

interface Attempt {
  readonly result?: WorkResult;
  /**
   * CPU time of this (the parent) process while the child ran: the local S3 server's, since
   * the parent does nothing else meanwhile but wait for the child.
   */
  readonly serverCpuMs?: number;
  /** Why there is no result: a crash, an error, or running out of memory. */
  readonly failure?: string;
}

function parseChildOutput(stdout: string): { result?: WorkResult; lastProgress: number } {
  let result: WorkResult | undefined;
  let lastProgress = 0;
  for (const line of stdout.split('\n')) {
    if (line.startsWith(RESULT_PREFIX))
      result = JSON.parse(line.slice(RESULT_PREFIX.length)) as WorkResult;
    if (line.startsWith(PROGRESS_PREFIX)) lastProgress = Number(line.slice(PROGRESS_PREFIX.length));
  }
  return result ? { result, lastProgress } : { lastProgress };
}

async function child(
  args: string[],
  env: Record<string, string>,
  nodeOptions: string[] = [],
): Promise<Attempt> {
  const cpu = process.cpuUsage();
  const out = await runNode(
    [PARSER_CHILD, ...args],
    { PATH: process.env.PATH, ...env },
    nodeOptions,
  );
  const used = process.cpuUsage(cpu);
  const { result, lastProgress } = parseChildOutput(out.stdout);
  if (out.code === 0 && result) return { result, serverCpuMs: (used.user + used.system) / 1000 };
  const oom =
    /heap out of memory|Invalid string length|Cannot create a string longer|ERR_STRING_TOO_LONG|Array buffer allocation failed/i.exec(
      out.stderr,
    );
  const at = `${Math.round(lastProgress / MB)} MB read`;
  const why = oom
    ? `${oom[0]}`
    : `exit ${out.code ?? out.signal}: ${out.stderr.trim().split('\n').slice(-1)[0] ?? ''}`;
  return { failure: `failed after ${at} (${why})` };
}

async function upload(
  s3: TestS3,
  file: string,
  format: InputFormat,
  size: number,
): Promise<string> {
  const key = rawKey({
    sourceId: ENVELOPE.sourceId,
    scheduledAt: '2026-06-01T00:00:00.000Z',
    runId: ENVELOPE.runId,
    page: 0,
    extension: format === 'csv' ? 'csv' : 'ndjson',
  });
  const metadata = toS3Metadata({
    runId: ENVELOPE.runId,
    sourceId: ENVELOPE.sourceId,
    format,
    formatOptions: FORMAT_OPTIONS[format],
    fetchedAt: ENVELOPE.fetchedAt,
    scheduledAt: '2026-06-01T00:00:00.000Z',
    sha256: '0'.repeat(64),
    httpStatus: 200,
    page: 0,
  });
  await s3.client.send(
    new PutObjectCommand({
      Bucket: s3.bucket,
      Key: key,
      Body: createReadStream(file),
      ContentLength: size,
      Metadata: metadata,
    }),
  );
  return key;
}

/** The per-object measurement in a fresh process (see `perObject`). */
async function perObjectChild(
  kind: SmallObjectKind,
  objects: number,
  env: Record<string, string>,
): Promise<PerObjectResult> {
  const out = await runNode(
    [PARSER_CHILD, 'per-object', kind, String(objects)],
    { PATH: process.env.PATH, ...env },
    FUNCTION_HEAP_FLAGS,
  );
  return resultOf<PerObjectResult>(`per-object ${kind}`, out);
}

/** A run's CPU time (NaN where a child reported none). */
function cpuMsOf(result: WorkResult): number {
  return result.cpuMs ?? Number.NaN;
}

function rate(result: WorkResult): number {
  return result.bytesIn / MB / (result.ms / 1000);
}

export async function parserCase(mode: BenchMode): Promise<CaseResult> {
  const sizes = mode.quick ? [20] : [100, 1_024];
  const formats: InputFormat[] = ['ndjson', 'csv'];
  const figures: Figure[] = [];
  const details: Record<string, unknown> = {};
  mode.progress(`case ${CASE}: ${sizes.join(', ')} MB x ${formats.join(', ')}`);
  const s3 = await startTestS3('fanout-bench');
  try {
    const env = { ...s3.env, FANOUT_BUCKET: s3.bucket };
    const objects = mode.quick ? 50 : 300;
    const perObjectReps = mode.quick ? 1 : 3;
    for (const kind of SMALL_KINDS) {
      const runs: PerObjectResult[] = [];
      for (let i = 0; i < perObjectReps; i += 1)
        runs.push(await perObjectChild(kind, objects, env));
      const size = runs[0]?.bytesPerObject ?? 0;
      const label = `small ${kind} (${(size / 1024).toFixed(1)} KB${kind === 'pack' ? ', 4 entries' : ''})`;
      figures.push(
        {
          caseId: CASE,
          metric: `${label} CPU per object, warm`,
          unit: 'ms',
          samples: runs.map((r) => r.cpuMsPerObject),
          target: { op: '<=', value: PER_OBJECT_CPU_TARGET_MS },
        },
        {
          caseId: CASE,
          metric: `${label} wall per object, warm`,
          unit: 'ms',
          samples: runs.map((r) => r.wallMsPerObject),
        },
      );
      details[`per-object ${kind}`] = runs;
    }
    mode.progress(`  per-object cost done`);
    for (const sizeMb of sizes) {
      const reps = mode.quick ? 1 : sizeMb >= 1_024 ? 1 : 3;
      for (const format of formats) {
        await withTempDir('parser', async (dir) => {
          const file = join(dir, `input.${format}`);
          await writeInput(file, format, sizeMb * MB);
          const size = (await stat(file)).size;
          const key = await upload(s3, file, format, size);
          const label = `${sizeMb >= 1_024 ? `${sizeMb / 1_024} GB` : `${sizeMb} MB`} ${format}`;
          const streamed: Attempt[] = [];
          const local: Attempt[] = [];
          const naive: Attempt[] = [];
          const hashed: Attempt[] = [];
          const hashedXxh64: Attempt[] = [];
          for (let i = 0; i < reps; i += 1) {
            streamed.push(await child(['parse-s3', key], env, FUNCTION_HEAP_FLAGS));
            local.push(await child(['parse-file', file, format], env, FUNCTION_HEAP_FLAGS));
            if (format === 'ndjson') {
              hashed.push(await child(['hash-records', file, 'sha256'], env, FUNCTION_HEAP_FLAGS));
              hashedXxh64.push(
                await child(['hash-records', file, 'xxh64'], env, FUNCTION_HEAP_FLAGS),
              );
            }
          }
          // The naive version is only ever worse; one run less of it keeps the suite short.
          for (let i = 0; i < Math.max(1, reps - 1); i += 1) {
            naive.push(
              await child(['naive-s3', s3.bucket, key, format], env, [
                `--max-old-space-size=${NAIVE_HEAP_MB}`,
              ]),
            );
          }
          mode.progress(`  ${label} done`);
          const firstFailure = (list: Attempt[]) => list.find((a) => a.failure)?.failure;
          const push = (
            metric: string,
            list: Attempt[],
            pick: (r: WorkResult, attempt: Attempt) => number,
            unit: string,
            target?: Figure['target'],
          ) => {
            const failure = firstFailure(list);
            figures.push({
              caseId: CASE,
              metric: `${label} ${metric}`,
              unit,
              samples: list.flatMap((a) => (a.result ? [pick(a.result, a)] : [])),
              ...(target ? { target } : {}),
              ...(failure ? { note: failure } : {}),
            });
          };
          push('S3 stream MB/s', streamed, rate, 'MB/s', { op: '>=', value: MB_PER_S_TARGET });
          push('S3 stream peak RSS', streamed, (r) => r.maxRssBytes / MB, 'MB', {
            op: '<=',
            value: RSS_TARGET_MB,
          });
          // CPU apart from wall time: on a busy machine the wall time is mostly waiting.
          push('S3 stream CPU, parser process', streamed, cpuMsOf, 'ms');
          push('S3 stream CPU, S3 server', streamed, (_r, a) => a.serverCpuMs ?? Number.NaN, 'ms');
          push('file stream MB/s', local, rate, 'MB/s');
          push('file stream CPU', local, cpuMsOf, 'ms');
          push('file stream peak RSS', local, (r) => r.maxRssBytes / MB, 'MB');
          if (hashed.length > 0) {
            // The hash's part of the parse: each run's hash CPU over the file stream's beside it.
            push('identity hash alone CPU (one SHA-256 per record)', hashed, cpuMsOf, 'ms');
            figures.push({
              caseId: CASE,
              metric: `${label} identity hash alone / file stream, CPU time`,
              unit: '%',
              samples: hashed.flatMap((a, i) => {
                const hashMs = a.result?.cpuMs;
                const parseMs = local[i]?.result?.cpuMs;
                return hashMs !== undefined && parseMs ? [(100 * hashMs) / parseMs] : [];
              }),
            });
            // A candidate the parser does not use, for the choice of the record hash.
            push('XXH64 (xxhash-wasm, not used) alone CPU, same work', hashedXxh64, cpuMsOf, 'ms');
          }
          push('naive MB/s', naive, rate, 'MB/s');
          push('naive peak RSS', naive, (r) => r.maxRssBytes / MB, 'MB');
          details[label] = { bytes: size, streamed, local, naive };
        });
      }
    }
  } finally {
    await s3.stop();
  }
  return {
    figures,
    details: {
      ...details,
      naiveHeapCapMb: NAIVE_HEAP_MB,
      how: 'each measurement in a fresh node process running dist/parser-child.mjs (peak RSS = VmHWM of /proc/self/status: getrusage maxRSS would include the parent pages from before exec); the local S3 server runs in the parent',
      streamingHeapFlags: FUNCTION_HEAP_FLAGS,
    },
  };
}

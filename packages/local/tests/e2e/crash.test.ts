import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parsePackKey, type RunStatus } from '@fanout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBucket } from '../../src/commands/bucket.js';
import type { RunSummary } from '../../src/commands/summary.js';
import { REPO_ROOT } from '../../src/config.js';
import { assertPortFree } from '../../src/ports.js';
import { RunRecordReader } from '../../src/run-records.js';
import { fanout } from '../cli/run-cli.js';
import {
  allOutcomes,
  E2E_COLLECTOR_TIMEOUT_SECONDS,
  listKeys,
  parsedKeysOfRun,
  readParsed,
  removeHome,
  tempHome,
} from './helpers.js';

/**
 * kill -9 of `fanout run` mid-cycle, `fanout replay --pending`, then the next scheduled
 * run: the replay's work is the run's record for the next run too, so nothing is fetched
 * or stored twice and the replayed sources are asked conditionally (304).
 */

const BIN = join(REPO_ROOT, 'packages', 'local', 'bin', 'fanout.mjs');
const SOURCES = '200';
const FIRST = '2026-07-02T09:00:00Z';
const FIRST_RUN = '20260702T090000Z';
const NEXT = '2026-07-02T09:10:00Z';
const NEXT_RUN = '20260702T091000Z';

async function packFiles(home: string): Promise<number> {
  const dir = join(home, 's3', 'fanout-local', 'raw', 'packs');
  try {
    const days = await readdir(dir);
    let count = 0;
    for (const day of days) {
      count += (await readdir(join(dir, day))).filter((f) => f.endsWith('._S3rver_object')).length;
    }
    return count;
  } catch {
    return 0;
  }
}

let home: string;
let ports: string[];
const previousHome = process.env.FANOUT_HOME;
let afterKill: RunStatus;
let replay: { code: number; report: Record<string, unknown> };
let next: RunSummary;

beforeAll(async () => {
  home = await tempHome('crash');
  ports = ['--s3-port', '0', '--lambda-port', '0', '--demo-port', String(await assertPortFree(0))];
  // Slow sources: each batch needs more than one collector hop, so a kill finds work in flight.
  const child = spawn(
    process.execPath,
    [
      BIN,
      'run',
      '--sources',
      SOURCES,
      '--latency',
      '1500',
      '--time',
      FIRST,
      '--collector-timeout',
      String(E2E_COLLECTOR_TIMEOUT_SECONDS),
      '--json',
      ...ports,
    ],
    { env: { ...process.env, FANOUT_HOME: home }, stdio: 'ignore' },
  );
  const started = Date.now();
  while (child.exitCode === null && (await packFiles(home)) < 1 && Date.now() - started < 240_000) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));

  process.env.FANOUT_HOME = home;
  afterKill = JSON.parse((await fanout('status', FIRST_RUN, '--json')).stdout) as RunStatus;
  const replayed = await fanout('replay', FIRST_RUN, '--pending', '--json', ...ports);
  replay = { code: replayed.code, report: JSON.parse(replayed.stdout) };
  const nextRun = await fanout(
    'run',
    '--sources',
    SOURCES,
    '--latency',
    '0',
    '--time',
    NEXT,
    '--json',
    ...ports,
  );
  next = JSON.parse(nextRun.stdout);
}, 900_000);

afterAll(async () => {
  if (previousHome === undefined) delete process.env.FANOUT_HOME;
  else process.env.FANOUT_HOME = previousHome;
  await removeHome(home);
});

describe('kill -9 mid-run, replay --pending, then the next scheduled run', () => {
  it('was killed with work in flight, and the replay completed the run', () => {
    expect(afterKill.complete).toBe(false);
    expect(afterKill.pending + afterKill.unparsed).toBeGreaterThan(0);
    expect(replay.report).toMatchObject({ complete: true });
    // Complete; 1 for the demo's malformed page, quarantined on purpose (as `status` says).
    expect(replay.code).toBe(1);
  });

  it('the next run collects nothing again: every source unchanged, no page stored', () => {
    expect(next).toMatchObject({ runId: NEXT_RUN, complete: true, collected: 0, failed: 0 });
    // The sources and the demo shop's detail pages.
    expect(next.detailPages).toBeGreaterThan(0);
    expect(next.unchanged).toBe(next.sources + next.detailPages);
    expect(next.pages).toBe(0);
  });

  it('stores no page of the killed run in two parsed objects, and sends none of its hops again', async () => {
    // The data folder, read only (as `fanout status` reads it).
    const target = await openBucket({}, home);
    const reader = new RunRecordReader(target.s3, target.bucket);
    try {
      const { s3, bucket } = target;
      // Each page's records come from one parsed object: count objects per page.
      const objectsPerPage = new Map<string, Set<string>>();
      for (const key of await parsedKeysOfRun(reader, FIRST_RUN)) {
        for (const line of await readParsed(s3, bucket, key)) {
          const page = `${line.source}-p${line.page}`;
          objectsPerPage.set(page, (objectsPerPage.get(page) ?? new Set()).add(key));
        }
      }
      expect(objectsPerPage.size).toBeGreaterThan(0);
      expect([...objectsPerPage].filter(([, keys]) => keys.size > 1)).toEqual([]);

      // The batches of the killed run: its plan's, and the replay's (b900000 up); none
      // sent again by the next run's manager.
      const records = await reader.records(FIRST_RUN);
      const planned = new Set(records.manifest?.batches.map((batch) => batch.batchId));
      const batches = new Set(
        (await listKeys(reader, 'raw/packs/'))
          .map((key) => parsePackKey(key))
          .filter((pack) => pack?.runId === FIRST_RUN)
          .map((pack) => pack?.batchId ?? ''),
      );
      for (const batchId of batches) {
        expect(planned.has(batchId) || Number(batchId.slice(1)) >= 900_000, batchId).toBe(true);
      }

      // The replayed sources were asked with their validators by the next run: 304. A
      // source that follows links is read in full every run (its links lead to its detail
      // pages, asked conditionally) and found unchanged by its body's hash.
      const replayed = allOutcomes(records.results)
        .filter(({ result }) => Number(result.batchId.slice(1)) >= 900_000)
        .map(({ outcome }) => outcome.sourceId);
      expect(replayed.length).toBeGreaterThan(0);
      const nextOutcomes = new Map(
        allOutcomes((await reader.records(NEXT_RUN)).results).map(({ outcome }) => [
          outcome.sourceId,
          outcome,
        ]),
      );
      const following = new Set(['demo-shop']);
      for (const sourceId of replayed) {
        expect(nextOutcomes.get(sourceId), sourceId).toMatchObject({
          status: 'unchanged',
          httpStatus: following.has(sourceId) ? 200 : 304,
        });
      }
    } finally {
      await target.close();
    }
  });
});

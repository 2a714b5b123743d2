#!/usr/bin/env node
// The "runs that finish on their own" check at full size: `pnpm chaos:check` runs three
// chaotic cycles of 300 generated sources (the spec below), each in its own data folder,
// and prints per run: complete without any manual step?, sources with more than one
// recorded outcome, raw objects without a parse outcome, duplicate parsed records, and
// whether a second `fanout replay` changes anything. Then a crash: `fanout run` killed with
// SIGKILL mid-cycle (once packs are being written), restarted with `fanout replay <run>
// --pending`: the run must complete, every parsed object must pass `gzip -t`, and the
// local S3 must hold no temp file. Exits 1 when a target is missed.
// The small seeded version of these checks runs in `pnpm test` (packages/local/tests/e2e).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SPEC =
  'upstream-errors=0.1,upstream-hangs=0.05,s3-errors=0.02,duplicates=0.1,collector-timeouts=0.1';
const RUNS = Number(process.env.CHAOS_RUNS ?? 3);
const SOURCES = process.env.CHAOS_SOURCES ?? '300';

/**
 * The CLI runs on this script's own node binary: under pnpm, `node` on PATH is a shell shim
 * that starts node as its child, and a SIGKILL of the shim would leave the CLI running.
 */
function fanout(home, args) {
  const run = spawnSync(process.execPath, ['packages/local/bin/fanout.mjs', ...args], {
    cwd: root,
    env: { ...process.env, FANOUT_HOME: home },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

function filesUnder(dir) {
  let out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    out = statSync(path).isDirectory() ? out.concat(filesUnder(path)) : out.concat(path);
  }
  return out;
}

/**
 * Parsed pages of a run, read from the local S3's data folder: a page (source, page) whose
 * records are in more than one parsed object was delivered twice.
 */
function duplicatePages(home, runId) {
  const objects = filesUnder(join(home, 's3')).filter(
    (f) => f.includes('/parsed/') && f.includes(`${runId}~`) && f.endsWith('._S3rver_object'),
  );
  const owner = new Map();
  let duplicates = 0;
  let records = 0;
  for (const file of objects) {
    const pages = new Set();
    const lines = gunzipSync(readFileSync(file)).toString('utf8').split('\n').filter(Boolean);
    for (const line of lines) {
      records += 1;
      const { source, page } = JSON.parse(line);
      pages.add(`${source}#${page}`);
    }
    for (const page of pages) {
      if (owner.has(page)) duplicates += 1;
      else owner.set(page, file);
    }
  }
  return { objects: objects.length, records, pages: owner.size, duplicates };
}

function objectCount(home) {
  return filesUnder(join(home, 's3')).filter((f) => f.endsWith('._S3rver_object')).length;
}

let missed = 0;
for (let i = 0; i < RUNS; i += 1) {
  const home = mkdtempSync(join(tmpdir(), 'fanout-chaos-'));
  try {
    const time = new Date(Date.UTC(2026, 10, 29, 8, 10 * i)).toISOString();
    const run = fanout(home, [
      'run',
      '--sources',
      SOURCES,
      `--chaos=${SPEC}`,
      '--time',
      time,
      '--json',
    ]);
    const summary = JSON.parse(run.stdout || '{}');
    const runId = summary.runId;
    const status = JSON.parse(fanout(home, ['status', runId, '--json']).stdout || '{}');
    const before = objectCount(home);
    const firstReplay = fanout(home, ['replay', runId]);
    const afterFirst = objectCount(home);
    const secondReplay = fanout(home, ['replay', runId]);
    const afterSecond = objectCount(home);
    const parsed = duplicatePages(home, runId);
    const row = {
      run: i + 1,
      runId,
      completeWithoutReplay: summary.complete === true,
      deadLettered: summary.deadLettered,
      pendingAfterRun: summary.pending,
      unparsedAfterRun: summary.unparsed,
      completeAfterReplay: firstReplay.code === 0 || firstReplay.code === 1,
      rawWithoutOutcome: status.unparsed,
      parsedObjects: parsed.objects,
      parsedRecords: parsed.records,
      parsedPages: parsed.pages,
      pagesParsedTwice: parsed.duplicates,
      objectsWrittenByFirstReplay: afterFirst - before,
      objectsWrittenBySecondReplay: afterSecond - afterFirst,
      secondReplayExit: secondReplay.code,
    };
    process.stdout.write(`${JSON.stringify(row)}\n`);
    if (
      !row.completeWithoutReplay ||
      row.pagesParsedTwice > 0 ||
      row.objectsWrittenBySecondReplay > 0
    ) {
      missed += 1;
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
process.stdout.write(`${RUNS - missed} of ${RUNS} runs met every target\n`);

/** Starts `fanout run` and kills it with SIGKILL once `ready()` holds (or after `maxMs`). */
async function runKilledMidCycle(home, args, ready, maxMs) {
  const child = spawn(process.execPath, ['packages/local/bin/fanout.mjs', ...args], {
    cwd: root,
    env: { ...process.env, FANOUT_HOME: home },
    stdio: 'ignore',
  });
  const started = Date.now();
  while (Date.now() - started < maxMs && child.exitCode === null && !ready()) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const killedAt = Date.now() - started;
  const wasRunning = child.exitCode === null;
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  return { killedAt, wasRunning };
}

function gzipTestFails(file) {
  return spawnSync('gzip', ['-t'], { input: readFileSync(file) }).status !== 0;
}

const crashHome = mkdtempSync(join(tmpdir(), 'fanout-crash-'));
let crashMissed = false;
try {
  const packs = () => {
    try {
      return filesUnder(join(crashHome, 's3')).filter(
        (f) => f.includes('/raw/packs/') && f.endsWith('._S3rver_object'),
      ).length;
    } catch {
      return 0;
    }
  };
  const time = new Date(Date.UTC(2026, 10, 29, 9, 0)).toISOString();
  const kill = await runKilledMidCycle(
    crashHome,
    ['run', '--sources', SOURCES, '--time', time, '--json'],
    () => packs() >= 3,
    120_000,
  );
  const runId = JSON.parse(fanout(crashHome, ['status', '--json']).stdout || '{}').runId;
  const before = JSON.parse(fanout(crashHome, ['status', runId, '--json']).stdout || '{}');
  const replay = fanout(crashHome, ['replay', runId, '--pending', '--json']);
  const after = JSON.parse(fanout(crashHome, ['status', runId, '--json']).stdout || '{}');
  const files = filesUnder(join(crashHome, 's3'));
  const parsedObjects = files.filter(
    (f) => f.includes('/parsed/') && f.endsWith('._S3rver_object'),
  );
  const row = {
    crash: 'SIGKILL of fanout run mid-cycle, then fanout replay --pending',
    runId,
    killedAfterMs: kill.killedAt,
    killedWhileRunning: kill.wasRunning,
    pendingAfterKill: before.pending,
    unparsedAfterKill: before.unparsed,
    replayExit: replay.code,
    completeAfterReplay: after.complete === true,
    pendingAfterReplay: after.pending,
    unparsedAfterReplay: after.unparsed,
    parsedObjects: parsedObjects.length,
    parsedObjectsFailingGzipTest: parsedObjects.filter(gzipTestFails).length,
    tempFilesLeft: files.filter((f) => /\.(tmp|partial)$|\/\.tmp\//.test(f)).length,
  };
  process.stdout.write(`${JSON.stringify(row)}\n`);
  crashMissed =
    !row.killedWhileRunning ||
    !row.completeAfterReplay ||
    row.parsedObjectsFailingGzipTest > 0 ||
    row.tempFilesLeft > 0;
  process.stdout.write(`crash: ${crashMissed ? 'a target missed' : 'every target met'}\n`);
} finally {
  rmSync(crashHome, { recursive: true, force: true });
}
process.exit(missed === 0 && !crashMissed ? 0 : 1);

#!/usr/bin/env node
// The "runs that finish on their own" check at full size: `pnpm chaos:check` runs three
// chaotic cycles of 300 generated sources (the spec below), each in its own data folder,
// and prints per run: complete without any manual step?, sources with more than one
// recorded outcome, raw objects without a parse outcome, duplicate parsed records, and
// whether a second `fanout replay` changes anything. Exits 1 when a target is missed.
// The small seeded version of these checks runs in `pnpm test` (packages/local/tests/e2e).
import { spawnSync } from 'node:child_process';
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

function fanout(home, args) {
  const run = spawnSync('node', ['packages/local/bin/fanout.mjs', ...args], {
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
process.exit(missed === 0 ? 0 : 1);

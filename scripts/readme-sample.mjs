#!/usr/bin/env node
// Regenerates the sample output in README.md from a real local run, so the README cannot
// go stale silently: `pnpm readme:sample` (builds first). The block between the markers
// `<!-- sample:run -->` and `<!-- /sample:run -->` is replaced with what `fanout run`
// printed, with the temporary data folder shown as `.fanout`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const readme = join(root, 'README.md');
const START = '<!-- sample:run -->';
const END = '<!-- /sample:run -->';

const home = mkdtempSync(join(tmpdir(), 'fanout-readme-'));
try {
  const run = spawnSync(
    'sh',
    ['-c', 'node packages/local/bin/fanout.mjs run --allow-problems 2>&1'],
    { cwd: root, env: { ...process.env, FANOUT_HOME: home }, encoding: 'utf8' },
  );
  if (run.status !== 0) {
    process.stderr.write(run.stdout);
    throw new Error(`fanout run exited ${run.status}; README left as it was`);
  }
  const output = run.stdout.split(home).join('.fanout').trimEnd();
  const text = readFileSync(readme, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start === -1 || end < start) throw new Error(`README.md has no ${START} ... ${END} block`);
  const block = `${START}\n\`\`\`\n$ npx -y pnpm@10.34.9 start\n${output}\n\`\`\`\n`;
  writeFileSync(readme, `${text.slice(0, start)}${block}${text.slice(end)}`);
  process.stdout.write(`README.md sample updated (${output.split('\n').length} lines)\n`);
} finally {
  rmSync(home, { recursive: true, force: true });
}

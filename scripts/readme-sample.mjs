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

// Ports to run on instead of the defaults (`pnpm readme:sample --s3-port 4800 --lambda-port
// 4801 --demo-port 4802`, on a machine where the defaults are taken); the sample still shows
// the default ports, which are what `pnpm start` prints.
const DEFAULT_PORTS = { '--s3-port': 4600, '--lambda-port': 4601, '--demo-port': 4602 };
const args = process.argv.slice(2);
const portsUsed = [];
for (let i = 0; i < args.length; i += 2) {
  const port = Number(args[i + 1]);
  if (!(args[i] in DEFAULT_PORTS) || !Number.isInteger(port)) {
    throw new Error(
      `readme-sample: expected --s3-port, --lambda-port or --demo-port N, got ${args[i]}`,
    );
  }
  portsUsed.push([port, DEFAULT_PORTS[args[i]]]);
}

const home = mkdtempSync(join(tmpdir(), 'fanout-readme-'));
try {
  // Through sh with 2>&1, so progress (stderr) and the summary (stdout) keep their order.
  // The arguments were checked above: flag names and whole numbers only.
  const run = spawnSync(
    'sh',
    ['-c', `node packages/local/bin/fanout.mjs run --allow-problems ${args.join(' ')} 2>&1`],
    { cwd: root, env: { ...process.env, FANOUT_HOME: home }, encoding: 'utf8' },
  );
  if (run.status !== 0) {
    process.stderr.write(run.stdout);
    throw new Error(`fanout run exited ${run.status}; README left as it was`);
  }
  let output = run.stdout.split(home).join('.fanout').trimEnd();
  for (const [used, shown] of portsUsed)
    output = output.split(`127.0.0.1:${used}`).join(`127.0.0.1:${shown}`);
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

#!/usr/bin/env node
// `pnpm report:screenshot`: runs one demo cycle in a fresh local cloud (its own temporary
// FANOUT_HOME and free ports), writes its `fanout report`, and saves a PNG of the page as
// headless Chromium draws it to docs/report.png (for the README). Needs Debian's
// `chromium` (or CHROMIUM=path) and the built CLI (the pnpm script builds it).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cli = join(root, 'packages', 'local', 'bin', 'fanout.mjs');
const out = resolve(root, process.argv[2] ?? 'docs/report.png');
const home = mkdtempSync(join(tmpdir(), 'fanout-screenshot-'));
const env = { ...process.env, FANOUT_HOME: home };
const ports = ['--s3-port', '0', '--lambda-port', '0', '--demo-port', '0'];

try {
  const fanout = (...args) =>
    execFileSync(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  fanout('run', '--allow-problems', '--time', '2026-11-29T10:00:00Z', ...ports);
  const page = join(home, 'report.html');
  fanout('report', '--out', page);
  execFileSync(
    process.env.CHROMIUM ?? 'chromium',
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--hide-scrollbars',
      '--force-device-scale-factor=1',
      '--window-size=1180,960',
      `--user-data-dir=${join(home, 'chromium')}`,
      `--screenshot=${out}`,
      pathToFileURL(page).href,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  process.stdout.write(`Wrote ${out} (${Math.round(statSync(out).size / 1024)} KB)\n`);
} finally {
  rmSync(home, { recursive: true, force: true });
}

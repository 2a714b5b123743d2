#!/usr/bin/env node
// Builds what a root script needs, through turbo and its cache, without turbo's banner:
// `node scripts/build-quietly.mjs @fanout/local...` prints nothing when the build succeeds
// (a cached build takes well under a second), one line if it takes longer (a first build,
// or changed code), and turbo's whole output, with its exit code, when it fails. So
// `pnpm start` and `pnpm fanout` show the CLI's output and nothing before it.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filter = process.argv[2];
if (!filter) {
  process.stderr.write('usage: node scripts/build-quietly.mjs <turbo filter>\n');
  process.exit(2);
}
/** After this long without a result, say what is happening. */
const QUIET_MS = 1_500;

const turbo = spawn(
  join(root, 'node_modules', '.bin', 'turbo'),
  ['run', 'build', `--filter=${filter}`, '--output-logs=errors-only'],
  {
    cwd: root,
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
const output = [];
turbo.stdout.on('data', (chunk) => output.push(chunk));
turbo.stderr.on('data', (chunk) => output.push(chunk));
const slow = setTimeout(() => {
  process.stderr.write(`Building ${filter} (first build, or the code changed)...\n`);
}, QUIET_MS);

turbo.on('error', (error) => {
  clearTimeout(slow);
  process.stderr.write(
    `build-quietly: cannot run turbo: ${error.message}\n  run: npx -y pnpm@10.34.9 install\n`,
  );
  process.exit(2);
});
turbo.on('close', (code, signal) => {
  clearTimeout(slow);
  if (code === 0) return;
  process.stderr.write(Buffer.concat(output));
  process.stderr.write(`build of ${filter} failed (${signal ?? `exit ${code}`})\n`);
  // The command could not run: exit 2, as the CLI does for whatever stops it from answering.
  process.exit(2);
});

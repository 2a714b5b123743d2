#!/usr/bin/env node
// Regenerates the sample output in the READMEs from the real CLI, so they cannot go stale
// silently: `pnpm readme:sample` (builds first). In README.md the block between
// `<!-- sample:run -->` and `<!-- /sample:run -->` is replaced with what `fanout run`
// printed, with the temporary data folder shown as `.fanout`; in packages/local/README.md
// the block between `<!-- sample:help -->` and `<!-- /sample:help -->` with `fanout help`.
// `--help-only` rewrites the help block alone (no demo run). `--s3-port P --lambda-port P
// --demo-port P` run the demo on other ports (a machine where the defaults are taken); the
// sample still shows the default ports, which are what `pnpm start` prints.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'packages', 'local', 'bin', 'fanout.mjs');

/** Replaces the fenced block between `<!-- sample:NAME -->` and its end marker in `file`. */
function replaceBlock(file, name, body) {
  const start = `<!-- sample:${name} -->`;
  const end = `<!-- /sample:${name} -->`;
  const text = readFileSync(file, 'utf8');
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from === -1 || to < from) throw new Error(`${file} has no ${start} ... ${end} block`);
  writeFileSync(file, `${text.slice(0, from)}${start}\n${body}${text.slice(to)}`);
  process.stdout.write(`${file}: sample:${name} updated (${body.split('\n').length - 3} lines)\n`);
}

const help = spawnSync(process.execPath, [cli, 'help'], { cwd: root, encoding: 'utf8' });
if (help.status !== 0) throw new Error(`fanout help exited ${help.status}: ${help.stderr}`);
replaceBlock(
  join(root, 'packages', 'local', 'README.md'),
  'help',
  `\`\`\`text\n${help.stdout.trimEnd()}\n\`\`\`\n`,
);

const DEFAULT_PORTS = { '--s3-port': 4600, '--lambda-port': 4601, '--demo-port': 4602 };
const portArgs = process.argv.slice(2).filter((arg) => arg !== '--help-only');
const portsUsed = [];
for (let i = 0; i < portArgs.length; i += 2) {
  const port = Number(portArgs[i + 1]);
  if (!(portArgs[i] in DEFAULT_PORTS) || !Number.isInteger(port)) {
    throw new Error(
      `readme-sample: expected --s3-port, --lambda-port or --demo-port N, got ${portArgs[i]}`,
    );
  }
  portsUsed.push([port, DEFAULT_PORTS[portArgs[i]]]);
}

if (!process.argv.includes('--help-only')) {
  const home = mkdtempSync(join(tmpdir(), 'fanout-readme-'));
  try {
    // The port arguments were checked above: flag names and whole numbers only.
    const command = `node ${JSON.stringify(cli)} run --allow-problems ${portArgs.join(' ')} 2>&1`;
    const run = spawnSync('sh', ['-c', command], {
      cwd: root,
      env: { ...process.env, FANOUT_HOME: home },
      encoding: 'utf8',
    });
    if (run.status !== 0) {
      process.stderr.write(run.stdout);
      throw new Error(`fanout run exited ${run.status}; README left as it was`);
    }
    let output = run.stdout.split(home).join('.fanout').trimEnd();
    for (const [used, shown] of portsUsed) {
      output = output.split(`127.0.0.1:${used}`).join(`127.0.0.1:${shown}`);
    }
    replaceBlock(
      join(root, 'README.md'),
      'run',
      `\`\`\`\n$ npx -y pnpm@10.34.9 start\n${output}\n\`\`\`\n`,
    );
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

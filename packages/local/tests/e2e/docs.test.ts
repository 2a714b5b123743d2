import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertPortFree } from '../../src/ports.js';
import { removeHome, tempHome } from './helpers.js';

/**
 * The READMEs' commands, run as written so they cannot go stale: every block marked
 * `<!-- docs:check -->` runs in bash against a real `fanout start` (the built CLI, on free
 * ports put where the docs say 4600-4603) with the AWS CLI, and must exit 0; each line of it
 * that starts with `# ` is output that must appear, in order (`...` stands for any text).
 * A block marked `<!-- docs:check secrets.json -->` is the local secrets file the others
 * read. And the help in packages/local/README.md is what `fanout help` prints.
 */

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const BIN = join(REPO, 'packages', 'local', 'bin', 'fanout.mjs');
const DOCS = ['README.md', join('packages', 'local', 'README.md')];

interface Block {
  readonly where: string;
  readonly kind: 'sh' | 'secrets.json';
  readonly text: string;
}

function checkedBlocks(): Block[] {
  const blocks: Block[] = [];
  for (const doc of DOCS) {
    const text = readFileSync(join(REPO, doc), 'utf8');
    for (const match of text.matchAll(
      /<!-- docs:check( secrets\.json)? -->\n```(?:sh|json)\n([\s\S]*?)```/g,
    )) {
      const line = text.slice(0, match.index).split('\n').length;
      blocks.push({
        where: `${doc}:${line}`,
        kind: match[1] ? 'secrets.json' : 'sh',
        text: match[2] ?? '',
      });
    }
  }
  return blocks;
}

/** `# ` lines: expected output, `...` any text, matched as whole lines. */
function expectedLines(script: string): RegExp[] {
  return script
    .split('\n')
    .filter((line) => line.startsWith('# '))
    .map(
      (line) =>
        new RegExp(
          `^${line
            .slice(2)
            .split('...')
            .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*')}$`,
        ),
    );
}

/** Lines of `output` matching `patterns` in order; the first pattern that matched nothing. */
function firstMissing(output: string, patterns: RegExp[]): RegExp | undefined {
  const lines = output.split('\n');
  let at = 0;
  for (const pattern of patterns) {
    const found = lines.findIndex((line, index) => index >= at && pattern.test(line));
    if (found === -1) return pattern;
    at = found + 1;
  }
  return undefined;
}

function awsMajorVersion(): number {
  const version = spawnSync('aws', ['--version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) {
    throw new Error('the AWS CLI is needed by this test: apt-get install -y awscli');
  }
  return Number(/aws-cli\/(\d+)/.exec(`${version.stdout}${version.stderr}`)?.[1] ?? 0);
}

let home: string;
let start: ChildProcess;
let ports: Record<'4600' | '4601' | '4602' | '4603', number>;
let aws: number;

/** The block as it runs here: the built CLI for the pnpm script, this test's ports. */
function runnable(script: string): string {
  let text = script
    .replaceAll('npx -y pnpm@10.34.9 -s fanout', `"${process.execPath}" "${BIN}"`)
    .replaceAll('npx -y pnpm@10.34.9 fanout', `"${process.execPath}" "${BIN}"`);
  for (const [documented, port] of Object.entries(ports)) {
    text = text.replaceAll(`127.0.0.1:${documented}`, `127.0.0.1:${port}`);
  }
  // AWS CLI v1 takes the payload as given and has no such option (as the docs say).
  if (aws < 2) text = text.replaceAll(' --cli-binary-format raw-in-base64-out', '');
  return text;
}

beforeAll(async () => {
  aws = awsMajorVersion();
  home = await tempHome('docs');
  ports = {
    '4600': await assertPortFree(0),
    '4601': await assertPortFree(0),
    '4602': await assertPortFree(0),
    '4603': await assertPortFree(0),
  };
  start = spawn(
    process.execPath,
    [
      BIN,
      'start',
      '--s3-port',
      String(ports['4600']),
      '--lambda-port',
      String(ports['4601']),
      '--demo-port',
      String(ports['4602']),
      '--secrets-port',
      String(ports['4603']),
    ],
    { env: { ...process.env, FANOUT_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let printed = '';
  await new Promise<void>((ready, fail) => {
    start.stdout?.on('data', (chunk: Buffer) => {
      printed += chunk.toString('utf8');
      if (printed.includes('Fanout local cloud is running')) ready();
    });
    start.stderr?.on('data', (chunk: Buffer) => {
      printed += chunk.toString('utf8');
    });
    start.once('exit', (code) => fail(new Error(`fanout start exited ${code}: ${printed}`)));
  });
}, 120_000);

afterAll(async () => {
  if (start && start.exitCode === null) {
    const exited = new Promise((done) => start.once('exit', done));
    start.kill('SIGINT');
    await exited;
  }
  await removeHome(home);
});

describe("the READMEs' commands, run as written", () => {
  const blocks = checkedBlocks();

  it('finds the blocks to run', () => {
    expect(blocks.filter((block) => block.kind === 'sh').length).toBeGreaterThanOrEqual(3);
    expect(blocks.filter((block) => block.kind === 'secrets.json')).toHaveLength(1);
  });

  it.each(blocks.filter((block) => block.kind === 'sh').map((block) => [block.where, block]))(
    '%s',
    async (_where, block) => {
      // Prepare: the secrets file the docs show, where the running cloud reads it.
      const secrets = blocks.find((b) => b.kind === 'secrets.json');
      if (secrets) await writeFile(join(home, 'secrets.json'), secrets.text);

      // Act
      const run = await new Promise<{ code: number | null; output: string }>((done) => {
        const bash = spawn('bash', ['-e', '-c', runnable(block.text)], {
          env: { ...process.env, FANOUT_HOME: home },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        bash.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString('utf8');
        });
        bash.stderr.on('data', (chunk: Buffer) => {
          output += chunk.toString('utf8');
        });
        bash.once('close', (code) => done({ code, output }));
      });

      // Assess
      expect(run.code, run.output).toBe(0);
      expect(firstMissing(run.output, expectedLines(block.text)), run.output).toBeUndefined();
    },
    240_000,
  );

  it('shows in packages/local/README.md the help `fanout help` prints', () => {
    // Act
    const help = spawnSync(process.execPath, [BIN, 'help'], { encoding: 'utf8' });
    const readme = readFileSync(join(REPO, 'packages', 'local', 'README.md'), 'utf8');
    const block = /<!-- sample:help -->\n```text\n([\s\S]*?)\n```\n<!-- \/sample:help -->/.exec(
      readme,
    );

    // Assess
    expect(help.status).toBe(0);
    expect(block?.[1], 'pnpm readme:sample rewrites the block').toBe(help.stdout.trimEnd());
  });
});

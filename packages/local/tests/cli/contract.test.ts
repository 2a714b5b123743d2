import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LocalS3, startLocalS3 } from '@fanout/local-s3';
import { topology } from '@fanout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/commands/help.js';
import { removeHome, tempHome } from '../e2e/helpers.js';
import { expectOneErrorLine, fanout } from './run-cli.js';

/**
 * The exit-code contract, command by command: help with exit 0 (--help and -h, first or
 * after other options), and exit 2 with one error line (and at most one indented hint)
 * for an invalid run id, a port in use, an endpoint that does not answer and a bucket that
 * does not exist. `replay` and `reparse` take --endpoint and --bucket their own way (they
 * send work), so their rows for those two are not here.
 */

const FREE_PORTS = ['--lambda-port', '0', '--demo-port', '0', '--secrets-port', '0'];
const BAD_RUN_ID = '../../etc';

type Case = 'bad run id' | 'port in use' | 'unreachable endpoint' | 'missing bucket';

let home: string;
let saved: string | undefined;
let blocker: Server;
let blockedPort: number;
let closedEndpoint: string;
let s3: LocalS3;

async function listenOnFreePort(): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function portOf(server: Server): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

beforeAll(async () => {
  saved = process.env.FANOUT_HOME;
  home = await tempHome('contract');
  process.env.FANOUT_HOME = home;
  blocker = await listenOnFreePort();
  blockedPort = portOf(blocker);
  // A port nothing listens on: taken, then given back.
  const closed = await listenOnFreePort();
  closedEndpoint = `http://127.0.0.1:${portOf(closed)}`;
  await new Promise((resolve) => closed.close(resolve));
  // A real S3 endpoint that has the local bucket, and no other.
  s3 = await startLocalS3({
    home,
    bucket: 'fanout-local',
    port: 0,
    region: 'us-east-1',
    notification: topology.notification,
    deliver: async () => {},
  });
});

afterAll(async () => {
  await s3.stop();
  await new Promise((resolve) => blocker.close(resolve));
  if (saved === undefined) delete process.env.FANOUT_HOME;
  else process.env.FANOUT_HOME = saved;
  await removeHome(home);
});

/** The command line of a case, and what its one error line must say. */
/** What `records` and `query` take before their options: a source, an SQL statement. */
const POSITIONAL: Readonly<Record<string, string>> = { records: 'demo-rss', query: 'SELECT 1' };

function caseLine(command: string, which: Case): { argv: string[]; says: RegExp } {
  const reads = ['status', 'runs', 'records', 'query', 'report', 'cost'].includes(command);
  const takesRunId = ['status', 'report', 'replay'].includes(command);
  const positional = POSITIONAL[command] === undefined ? [] : [POSITIONAL[command] as string];
  switch (which) {
    case 'bad run id':
      if (command === 'records') {
        return {
          argv: [command, 'demo-rss', '--run', BAD_RUN_ID, '--s3-port', '0'],
          says: /invalid run id/,
        };
      }
      if (command === 'query') {
        // No run id to give: SQL DuckDB cannot parse is its one-line refusal.
        return { argv: [command, BAD_RUN_ID, '--s3-port', '0'], says: /Parser Error/ };
      }
      return {
        argv: [command, BAD_RUN_ID, '--s3-port', '0', ...(reads ? [] : FREE_PORTS)],
        says: takesRunId
          ? /invalid run id/
          : command === 'reparse'
            ? /is not under raw\//
            : /unexpected argument "\.\.\/\.\.\/etc"/,
      };
    case 'port in use':
      return {
        argv: [
          command,
          ...positional,
          ...(command === 'reparse' ? ['raw/'] : []),
          '--s3-port',
          String(blockedPort),
          ...(reads ? [] : FREE_PORTS),
        ],
        says: new RegExp(`^fanout: port ${blockedPort} \\(--s3-port\\) is already in use$`),
      };
    case 'unreachable endpoint':
      return {
        argv: [command, ...positional, '--endpoint', closedEndpoint],
        says: reads
          ? new RegExp(`cannot reach ${closedEndpoint}/ to read bucket fanout-local: ECONNREFUSED`)
          : /Unknown option '--endpoint'/,
      };
    case 'missing bucket':
      return {
        argv: [command, ...positional, '--endpoint', s3.endpoint, '--bucket', 'no-such-bucket'],
        says: reads
          ? new RegExp(`bucket no-such-bucket does not exist at ${s3.endpoint}/`)
          : /Unknown option '--(endpoint|bucket)'/,
      };
  }
}

const EVERY_COMMAND = COMMANDS.map((command) => command.name);
const SENDS_WORK = new Set(['replay', 'reparse']);

describe('every command: --help and -h', () => {
  it.each(
    EVERY_COMMAND.flatMap((command) => [
      [command, [command, '--help']],
      [command, [command, '-h']],
      [command, [command, '--json', '-h']],
      [command, [command, '--s3-port', '0', '--help']],
    ]),
  )('%s: %j prints its help and exits 0', async (command, argv) => {
    // Act
    const result = await fanout(...argv);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')[0]).toMatch(
      new RegExp(`^Usage: npx -y pnpm@10\\.34\\.9 fanout ${command}\\b`),
    );
    expect(result.stdout).toContain('Exit codes (every command):');
  });

  it('prints the whole help for help, --help, -h and no command; one command for help <command>', async () => {
    for (const argv of [['help'], ['--help'], ['-h'], []]) {
      const result = await fanout(...argv);
      expect(result.code).toBe(0);
      for (const command of EVERY_COMMAND)
        expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
    const one = await fanout('help', 'runs');
    expect(one.stdout.split('\n')[0]).toBe('Usage: npx -y pnpm@10.34.9 fanout runs [options]');
  });
});

describe('every command: one line and exit 2 when it cannot answer', () => {
  const rows = EVERY_COMMAND.flatMap((command) =>
    (['bad run id', 'port in use', 'unreachable endpoint', 'missing bucket'] as const)
      .filter(
        (which) =>
          !(
            SENDS_WORK.has(command) &&
            (which === 'unreachable endpoint' || which === 'missing bucket')
          ),
      )
      .map((which) => [command, which] as const),
  );

  it.each(rows)('%s, %s', async (command, which) => {
    // Prepare
    const { argv, says } = caseLine(command, which);

    // Act
    const result = await fanout(...argv);

    // Assess
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(expectOneErrorLine(result)).toMatch(says);
  });
});

describe('the exit code reaches the shell', () => {
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'fanout.mjs');

  it('exits 2 with one line from the built CLI, 0 for help', () => {
    // Act
    const bad = spawnSync(process.execPath, [bin, 'status', BAD_RUN_ID], {
      encoding: 'utf8',
      env: { ...process.env, FANOUT_HOME: home },
    });
    const help = spawnSync(process.execPath, [bin, 'status', '-h'], { encoding: 'utf8' });

    // Assess
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.split('\n')[0]).toBe(
      'fanout: invalid run id "../../etc": must be 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit',
    );
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npx -y pnpm@10\.34\.9 fanout status \[runId\]/);
  });
});

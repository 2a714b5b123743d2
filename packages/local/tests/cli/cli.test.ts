import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import type { Io } from '../../src/commands/run.js';
import { removeHome, tempHome } from '../e2e/helpers.js';

interface Captured {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function fanout(...argv: string[]): Promise<Captured> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await main(argv, { stdout, stderr } as unknown as Io);
  return {
    code,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  };
}

/** The error line (`fanout: ...`), with at most an indented hint after it and no stack frames. */
function expectOneErrorLine(result: Captured): string {
  const lines = result.stderr.trimEnd().split('\n');
  const errorLines = lines.filter((line) => line.startsWith('fanout: '));
  expect(errorLines).toHaveLength(1);
  expect(lines[0]).toBe(errorLines[0]);
  expect(lines.length).toBeLessThanOrEqual(2);
  for (const line of lines.slice(1)) expect(line).toMatch(/^ {2}\S/);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  return errorLines[0] ?? '';
}

const LOCAL_PORTS = ['--s3-port', '0', '--lambda-port', '0', '--demo-port', '0'];

describe('fanout CLI: wrong input', () => {
  it('names an unknown command in one line and exits 2', async () => {
    const result = await fanout('frobnicate', '--json');
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(expectOneErrorLine(result)).toContain('"frobnicate"');
  });

  it('names a bad flag in one line and exits 2', async () => {
    const result = await fanout('run', '--bogus-flag');
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(expectOneErrorLine(result)).toContain('--bogus-flag');
  });

  it('names a bad flag value in one line and exits 2', async () => {
    const result = await fanout('run', '--sources', 'many');
    expect(result.code).toBe(2);
    expect(expectOneErrorLine(result)).toContain('--sources');
  });

  it('names the bad entry of a manifest that does not validate, before starting anything', async () => {
    const dir = await tempHome('manifest');
    try {
      const path = join(dir, 'sources.json');
      await writeFile(
        path,
        JSON.stringify({
          version: 1,
          sources: [{ id: 'ok-one', url: 'http://127.0.0.1:1/x', format: 'json' }, { id: 'bad' }],
        }),
      );
      const result = await fanout('run', '--manifest', path, ...LOCAL_PORTS);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      const line = expectOneErrorLine(result);
      expect(line).toContain(path);
      expect(line).toMatch(/sources\.1|url|format/);
      expect(result.stderr).not.toContain('Starting the local cloud');

      await writeFile(path, '{"version": 1, "sources": [');
      const broken = await fanout('run', '--manifest', path, ...LOCAL_PORTS);
      expect(broken.code).toBe(2);
      expect(expectOneErrorLine(broken)).toContain('is not valid');
    } finally {
      await removeHome(dir);
    }
  });

  it('prints the help with exit 0', async () => {
    const result = await fanout('help');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: npx -y pnpm@10.34.9 fanout <command>');
  });
});

describe('fanout CLI against a temporary FANOUT_HOME', () => {
  const saved = process.env.FANOUT_HOME;
  let home: string;

  beforeAll(async () => {
    home = await tempHome('cli');
    process.env.FANOUT_HOME = home;
  });

  afterAll(async () => {
    if (saved === undefined) delete process.env.FANOUT_HOME;
    else process.env.FANOUT_HOME = saved;
    await removeHome(home);
  });

  it('says so in one line when a port is taken, and exits non-zero', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const result = await fanout(
        'run',
        '--s3-port',
        String(port),
        '--lambda-port',
        '0',
        '--demo-port',
        '0',
      );
      expect(result.code).not.toBe(0);
      expect(result.stdout).toBe('');
      const errorLines = result.stderr.split('\n').filter((line) => line.startsWith('fanout: '));
      expect(errorLines).toEqual([`fanout: port ${port} is already in use`]);
      expect(result.stderr).not.toMatch(/^\s+at /m);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  let summary: Record<string, unknown>;

  it('`run --json` prints exactly one JSON summary on stdout, exit 1 for the quarantined demo page', async () => {
    const result = await fanout(
      'run',
      '--json',
      '--sources',
      '4',
      '--latency',
      '0',
      '--time',
      '2026-07-01T10:00:00Z',
      ...LOCAL_PORTS,
    );
    // Complete, with the malformed demo source's page quarantined.
    expect(result.code).toBe(1);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    summary = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    for (const field of [
      'runId',
      'sources',
      'collected',
      'unchanged',
      'failed',
      'pages',
      'rawObjects',
      'parsed',
      'quarantined',
      'records',
      'deadLettered',
      'durationMs',
      'problems',
    ]) {
      expect(summary, field).toHaveProperty(field);
    }
    expect(summary).toMatchObject({
      runId: '20260701T100000Z',
      complete: true,
      sources: 12,
      collected: 12,
      failed: 0,
      quarantined: 1,
      deadLettered: 0,
      pending: 0,
      unparsed: 0,
    });
    // Pages, not raw objects: the paginated demo API stores three.
    expect(summary.parsed).toBeGreaterThan(12);
    expect(summary.pages).toBe(Number(summary.parsed) + Number(summary.quarantined));
    expect(summary.problems).toEqual([
      expect.objectContaining({ kind: 'quarantined', sourceId: 'demo-malformed' }),
    ]);
    // Progress goes to stderr, never into the JSON.
    expect(result.stderr).toContain('Starting the local cloud');
  }, 300_000);

  it('`query` and `records` read the records back from the data folder, as many as the run wrote', async () => {
    const counted = await fanout('query', 'SELECT count(*) AS n FROM records', '--json');
    expect(counted.code, counted.stderr).toBe(0);
    expect(JSON.parse(counted.stdout)).toEqual({ n: summary.records });
    expect(Number(summary.records)).toBeGreaterThan(0);
    const table = await fanout(
      'query',
      'SELECT source, count(*) AS n FROM records_latest GROUP BY source ORDER BY source',
    );
    expect(table.stdout).toMatch(/^source\s+n\n-+\s+-+\n/);
    expect(table.stdout).toContain('demo-csv ');
    const peek = await fanout('records', 'demo-ndjson', '--limit', '2');
    expect(peek.code, peek.stderr).toBe(0);
    expect(peek.stdout.trimEnd().split('\n')).toHaveLength(2);
    expect(peek.stderr).toMatch(/source demo-ndjson, run 20260701T100000Z: \d+ records, showing 2/);
    const unknown = await fanout('records', 'no-such-source');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no records of source "no-such-source"');
  });

  it('`status` reads the run back from the data folder as complete', async () => {
    const result = await fanout('status');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/Run 20260701T100000Z \(\w+\) complete/);
    expect(result.stdout).toContain('quarantined demo-malformed');

    const json = await fanout('status', '20260701T100000Z', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      complete: true,
      collected: summary.collected,
      rawObjects: summary.rawObjects,
      pages: summary.pages,
      parsed: summary.parsed,
      quarantined: summary.quarantined,
      problems: summary.problems,
    });
  }, 300_000);

  it('`status` of a run that does not exist says so in one line', async () => {
    const result = await fanout('status', '20200101T000000Z');
    expect(result.code).toBe(2);
    expect(expectOneErrorLine(result)).toContain('20200101T000000Z not found');
  }, 300_000);

  it('`reparse raw/` sends every raw object to the parser again and names what failed', async () => {
    const result = await fanout('reparse', 'raw/', ...LOCAL_PORTS);
    // The pack holding the malformed demo page parses with one page quarantined.
    expect(result.code).toBe(1);
    // Every raw object under raw/: the run's packs, and any pack of a hop that was done again
    // under load (its outcomes superseded), so at least the run's own.
    const sent = /^Sent (\d+) raw objects under raw\/ to the parser and waited for them: /.exec(
      result.stdout,
    );
    expect(Number(sent?.[1])).toBeGreaterThanOrEqual(Number(summary.rawObjects));
    expect(result.stdout).toMatch(/1 with pages quarantined, 0 quarantined, 0 dead-lettered/);
    expect(result.stdout).toMatch(/\(pages: \d+ parsed, [1-9]\d* quarantined\)/);
    expect(result.stderr).toMatch(
      /^fanout: reparse: 1 of \d+ objects did not parse in full: raw\//,
    );
    const after = await fanout('status', '--json');
    expect(JSON.parse(after.stdout)).toMatchObject({
      complete: true,
      parsed: summary.parsed,
      quarantined: summary.quarantined,
    });
  }, 300_000);

  it('`reparse` outside raw/ is a usage error', async () => {
    const result = await fanout('reparse', 'parsed/');
    expect(result.code).toBe(2);
    expect(expectOneErrorLine(result)).toContain('"parsed/" is not under raw/');
  });
});

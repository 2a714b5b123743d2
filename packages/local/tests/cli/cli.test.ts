import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeHome, tempHome } from '../e2e/helpers.js';
import { expectOneErrorLine, fanout } from './run-cli.js';

const LOCAL_PORTS = ['--s3-port', '0', '--lambda-port', '0', '--demo-port', '0'];

/** An endpoint where nothing listens: a port that was free a moment ago. */
async function closedEndpoint(): Promise<string> {
  const probe: Server = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}`;
}

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

  it('lists every bad entry of a manifest, never a credential, before starting anything', async () => {
    const dir = await tempHome('manifest');
    try {
      const path = join(dir, 'sources.json');
      const entries = [
        { id: 'ok-one', url: 'http://127.0.0.1:1/x', format: 'json' },
        { id: 'bad' },
        { id: 'ftp', url: 'ftp://user1:PASS-5e1f@example.com/x?token=TOK-9a2c', format: 'json' },
        { id: 'extra', url: 'https://example.com/x?token=TOK-9a2c', format: 'json', extra: 1 },
        {
          id: 'pasted',
          url: 'https://example.com/x',
          format: 'json',
          headers: { Authorization: { secret: 'Bearer ghp_TOK-77b1' } },
        },
        { id: 'crlf', url: 'https://example.com/x', format: 'json', headers: { 'X-A': 'a\r\nb' } },
        { id: 'never', url: 'https://example.com/x', format: 'json', every: 'cron(0 0 30 2 ? *)' },
      ];
      // A BOM first, as an editor on Windows saves it: not a problem.
      await writeFile(path, `\uFEFF${JSON.stringify({ version: 1, sources: entries })}`);
      const result = await fanout('run', '--manifest', path, ...LOCAL_PORTS);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines[0]).toBe(`fanout: manifest ${path}: 6 invalid entries; nothing was started`);
      for (const [index, field] of [
        [1, 'sources[1].url'],
        [2, 'sources[2].url'],
        [3, 'sources[3]: Unrecognized key: "extra"'],
        [4, 'sources[4].headers.Authorization.secret'],
        [5, 'sources[5].headers.X-A: header value has a line break'],
        [6, 'sources[6].every: never fires'],
      ] as const) {
        expect(
          lines.some((line) => line.startsWith(`  ${field}`)),
          `entry ${index}`,
        ).toBe(true);
      }
      expect(lines.at(-1)).toMatch(/^ {2}fix them and run again/);
      expect(result.stderr).not.toMatch(/PASS-5e1f|TOK-9a2c|TOK-77b1|user1/);
      expect(result.stderr).not.toContain('Starting the local cloud');

      // A CSS selector is compiled before anything starts, and named with its entry.
      await writeFile(
        path,
        JSON.stringify({
          version: 1,
          sources: [
            {
              id: 'shop',
              url: 'http://127.0.0.1:1/list',
              format: 'html',
              options: { items: 'li', fields: { price: '.price[' } },
            },
          ],
        }),
      );
      const selector = await fanout('run', '--manifest', path, ...LOCAL_PORTS);
      expect(selector.code).toBe(2);
      const [first, entry] = selector.stderr.split('\n');
      expect(first).toBe(`fanout: manifest ${path}: 1 invalid entry; nothing was started`);
      expect(entry).toContain(
        '  sources[0].options.fields.price: invalid CSS selector ".price[": Expected name, found',
      );
      expect(selector.stderr).not.toContain('Starting the local cloud');

      await writeFile(path, '{"version": 1, "sources": [');
      const broken = await fanout('run', '--manifest', path, ...LOCAL_PORTS);
      expect(broken.code).toBe(2);
      expect(expectOneErrorLine(broken)).toContain('is not valid');
    } finally {
      await removeHome(dir);
    }
  });

  it('names the endpoint and the bucket when nothing answers at --endpoint, and exits 2', async () => {
    const endpoint = await closedEndpoint();
    for (const argv of [
      ['status', '--endpoint', endpoint],
      ['report', '--endpoint', endpoint],
      ['cost', '--endpoint', endpoint],
      ['replay', '--endpoint', endpoint, '--lambda-endpoint', endpoint],
      ['reparse', 'raw/', '--endpoint', endpoint, '--lambda-endpoint', endpoint],
    ]) {
      const result = await fanout(...argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(expectOneErrorLine(result), argv.join(' ')).toContain(
        `cannot reach ${endpoint}/ to read bucket fanout-local: ECONNREFUSED`,
      );
    }
  });

  it('refuses replay and reparse with --endpoint but no --lambda-endpoint, naming it', async () => {
    for (const argv of [
      ['replay', '--endpoint', 'http://127.0.0.1:4600'],
      ['reparse', 'raw/', '--endpoint', 'http://127.0.0.1:4600'],
    ]) {
      const result = await fanout(...argv);
      expect(result.code).toBe(2);
      expect(expectOneErrorLine(result)).toContain(
        '--endpoint http://127.0.0.1:4600 names where the records are; the work goes to functions: add --lambda-endpoint',
      );
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
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(expectOneErrorLine(result)).toBe(`fanout: port ${port} (--s3-port) is already in use`);
      expect(result.stderr).toContain('--s3-port, --lambda-port, --demo-port, --secrets-port');
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

  it('`replay` of the complete run with a quarantined page sends nothing and exits 1, as `status` does', async () => {
    const result = await fanout('replay', '20260701T100000Z', '--json', ...LOCAL_PORTS);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({
      tasksRetried: 0,
      batchesRedelivered: 0,
      objectsReparsed: 0,
      complete: true,
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
    const sent =
      /^Sent (\d+) raw objects under raw\/ to the parser with the current manifest definitions and waited for them: /.exec(
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

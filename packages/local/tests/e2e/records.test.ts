import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { RECORD_VIEWS, SQL_ENGINES } from '@fanout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { exitCodeFor } from '../../src/commands/problems.js';
import type { Io } from '../../src/commands/run.js';
import { LOCAL_CREDENTIALS } from '../../src/config.js';
import { openRecordsDatabase } from '../../src/query/engine.js';
import type { CycleResult, LocalSession } from '../../src/session.js';
import {
  getBytes,
  parsedKeysOfRun,
  startE2eSession,
  startUpstream,
  stopE2e,
  tempHome,
} from './helpers.js';

const run = promisify(execFile);
const sha256Prefix = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** The record bytes of a stored line (after `"record":`, before the closing `}`). */
const recordOf = (line: string) => line.slice(line.indexOf('"record":') + 9, -1);

/** Runs `fanout` as a user would against the session's S3 endpoint; the cache goes under `home`. */
async function fanout(home: string, endpoint: string, ...args: string[]) {
  const captured = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const stdout = new PassThrough().on('data', (chunk: Buffer) => captured.stdout.push(chunk));
  const stderr = new PassThrough().on('data', (chunk: Buffer) => captured.stderr.push(chunk));
  const previous = process.env.FANOUT_HOME;
  process.env.FANOUT_HOME = home;
  try {
    const code = await main([...args, '--endpoint', endpoint], { stdout, stderr } as unknown as Io);
    const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString('utf8');
    return { code, stdout: text(captured.stdout), stderr: text(captured.stderr) };
  } finally {
    if (previous === undefined) delete process.env.FANOUT_HOME;
    else process.env.FANOUT_HOME = previous;
  }
}

describe('exact values, one bad entry alone, and a parsed object any HTTP client reads whole', () => {
  const DEEP = 100_000;
  const BODIES: Record<string, { format: string; body: string }> = {
    'exact-json': {
      format: 'json',
      body: '[{"n":12345678901234567890123,"f":1e400,"z":-0},\n  {"__proto__":{"polluted":"yes"},"a":1,"s":"caf\\u00e9 \\"q\\""}]',
    },
    'dup-csv': { format: 'csv', body: '__proto__,a,a,b\r\nx,1,2,3\r\n' },
    'cr-ndjson': { format: 'ndjson', body: '{"a":1,\r"b":"x"}\r\n{"c":[1,\r2]}\n' },
    'deep-json': { format: 'json', body: `${'['.repeat(DEEP)}${']'.repeat(DEEP)}` },
  };
  let home: string;
  let upstream: Server | undefined;
  let session: LocalSession | undefined;
  let result: CycleResult;
  let lines: string[];
  let parsedKey: string;

  beforeAll(async () => {
    let origin: string;
    ({ server: upstream, origin } = await startUpstream((req, res) => {
      const found = BODIES[(req.url ?? '').slice(1)];
      if (!found) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(found.body);
    }));
    home = await tempHome('records-exact');
    session = await startE2eSession(home, {
      manifest: {
        version: 1,
        sources: Object.entries(BODIES).map(([id, { format }]) => ({
          id,
          url: `${origin}/${id}`,
          format,
          allowPrivateNetwork: true,
        })),
      },
    });
    result = await session.cycle({ time: new Date('2026-12-06T10:00:00Z'), maxWaitMs: 120_000 });
    const keys = await parsedKeysOfRun(session.records, result.runId);
    expect(keys).toHaveLength(1);
    parsedKey = keys[0] ?? '';
    const bytes = await getBytes(session.cloud.s3, session.cloud.bucket, parsedKey);
    lines = gunzipSync(bytes).toString('utf8').split('\n').slice(0, -1);
  }, 300_000);

  afterAll(() => stopE2e(session, upstream, home));

  const recordsOf = (source: string) =>
    lines.filter((line) => line.startsWith(`{"source":"${source}"`)).map(recordOf);

  it('keeps the source text of numbers JSON cannot represent, __proto__ and escapes, byte for byte', () => {
    expect(recordsOf('exact-json')).toEqual([
      '{"n":12345678901234567890123,"f":1e400,"z":-0}',
      '{"__proto__":{"polluted":"yes"},"a":1,"s":"caf\\u00e9 \\"q\\""}',
    ]);
  });

  it('keeps a __proto__ column and renames a repeated CSV header instead of dropping it', () => {
    expect(recordsOf('dup-csv')).toEqual(['{"__proto__":"x","a":"1","a.1":"2","b":"3"}']);
  });

  it('leaves no raw CR or LF inside a line: whitespace between tokens is left out', () => {
    expect(recordsOf('cr-ndjson')).toEqual(['{"a":1,"b":"x"}', '{"c":[1,2]}']);
    for (const line of lines) expect(line).not.toMatch(/\r/);
  });

  it('gives every line a hash of its record bytes, and the hash as key when none is declared', () => {
    expect(lines).toHaveLength(5);
    for (const line of lines) {
      const { key, hash } = JSON.parse(line) as { key: string; hash: string };
      expect(hash).toBe(sha256Prefix(recordOf(line)));
      expect(key).toBe(hash);
    }
  });

  it('quarantines the 100,000-deep document alone with a depth reason: run complete, exit 1, nothing dead-lettered', async () => {
    expect(result.status).toMatchObject({ complete: true, parsed: 3, quarantined: 1, failed: 0 });
    expect(result.deadLettered).toBe(0);
    expect(exitCodeFor(result.status)).toBe(1);
    const cli = await fanout(home, session?.cloud.s3Endpoint ?? '', 'status', result.runId);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain('deep-json');
    expect(cli.stdout).toContain('nesting deeper than 1000 levels');
  });

  it('serves the parsed object whole to curl --compressed (one gzip member)', async () => {
    // As a user would: a URL presigned by the AWS CLI (SigV4), fetched with curl.
    await writeFile(join(home, 'aws-config'), '[default]\ns3 =\n  signature_version = s3v4\n');
    const env = {
      PATH: process.env.PATH,
      HOME: home,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: join(home, 'aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
    };
    const s3Url = `s3://${session?.cloud.bucket}/${parsedKey}`;
    const endpoint = session?.cloud.s3Endpoint ?? '';
    const presigned = await run('aws', ['--endpoint-url', endpoint, 's3', 'presign', s3Url], {
      env,
    });
    const url = presigned.stdout.trim();
    const { stdout } = await run('curl', [
      '--silent',
      '--show-error',
      '--fail',
      '--compressed',
      url,
    ]);
    expect(stdout.split('\n').slice(0, -1)).toEqual(lines);
  });
});

describe('three cycles of a feed: records_latest and records_changes', () => {
  /** Items of the feed at each cycle: two added and one changed every time. */
  const CYCLES: readonly (readonly { id: string; title: string }[])[] = [
    [
      { id: 'a', title: 'A1' },
      { id: 'b', title: 'B1' },
      { id: 'c', title: 'C1' },
    ],
    [
      { id: 'a', title: 'A2' },
      { id: 'b', title: 'B1' },
      { id: 'c', title: 'C1' },
      { id: 'd', title: 'D1' },
      { id: 'e', title: 'E1' },
    ],
    [
      { id: 'a', title: 'A2' },
      { id: 'b', title: 'B2' },
      { id: 'c', title: 'C1' },
      { id: 'd', title: 'D1' },
      { id: 'e', title: 'E1' },
      { id: 'f', title: 'F1' },
      { id: 'g', title: 'G1' },
    ],
  ];
  let cycle = 0;
  let home: string;
  let upstream: Server | undefined;
  let session: LocalSession | undefined;
  let endpoint: string;
  const results: CycleResult[] = [];

  const rss = (items: readonly { id: string; title: string }[]) =>
    `<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>${items
      .map((item) => `<item><guid>${item.id}</guid><title>${item.title}</title></item>`)
      .join('')}</channel></rss>`;

  beforeAll(async () => {
    let origin: string;
    ({ server: upstream, origin } = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/rss+xml' }).end(rss(CYCLES[cycle] ?? []));
    }));
    home = await tempHome('records-views');
    session = await startE2eSession(home, {
      manifest: {
        version: 1,
        sources: [
          {
            id: 'feed',
            url: `${origin}/feed`,
            format: 'rss',
            key: ['id'],
            allowPrivateNetwork: true,
          },
        ],
      },
    });
    endpoint = session.cloud.s3Endpoint;
    for (cycle = 0; cycle < CYCLES.length; cycle += 1) {
      const time = new Date(Date.UTC(2026, 11, 6, 10, cycle * 10));
      results.push(await session.cycle({ time, maxWaitMs: 120_000 }));
    }
  }, 600_000);

  afterAll(() => stopE2e(session, upstream, home));

  const query = async (sql: string) => {
    const out = await fanout(home, endpoint, 'query', sql, '--json');
    expect(out.code, out.stderr).toBe(0);
    return out.stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  };

  it('collects and parses each cycle', () => {
    expect(results.map((r) => [r.status.complete, r.status.collected, r.status.parsed])).toEqual([
      [true, 1, 1],
      [true, 1, 1],
      [true, 1, 1],
    ]);
  });

  it('keeps every fetch in records, keyed by the declared key', async () => {
    const rows = await query('SELECT key, count(*) AS n FROM records GROUP BY key ORDER BY key');
    expect(rows).toEqual([
      { key: 'a', n: 3 },
      { key: 'b', n: 3 },
      { key: 'c', n: 3 },
      { key: 'd', n: 2 },
      { key: 'e', n: 2 },
      { key: 'f', n: 1 },
      { key: 'g', n: 1 },
    ]);
  });

  it('records_latest has exactly the distinct items, each with its latest version', async () => {
    const rows = await query(
      "SELECT key, json_extract_scalar(record, '$.title') AS title FROM records_latest ORDER BY key",
    );
    expect(rows).toEqual((CYCLES[2] ?? []).map((item) => ({ key: item.id, title: item.title })));
  });

  it('records_changes has each version once, at its first appearance', async () => {
    const rows = await query(
      "SELECT key, json_extract_scalar(record, '$.title') AS title, run FROM records_changes ORDER BY key, run",
    );
    const runs = results.map((r) => r.runId);
    expect(rows).toEqual([
      { key: 'a', title: 'A1', run: runs[0] },
      { key: 'a', title: 'A2', run: runs[1] },
      { key: 'b', title: 'B1', run: runs[0] },
      { key: 'b', title: 'B2', run: runs[2] },
      { key: 'c', title: 'C1', run: runs[0] },
      { key: 'd', title: 'D1', run: runs[1] },
      { key: 'e', title: 'E1', run: runs[1] },
      { key: 'f', title: 'F1', run: runs[2] },
      { key: 'g', title: 'G1', run: runs[2] },
    ]);
  });

  it('gives the same counts from the SQL the Pulumi program gives Athena, run as written', async () => {
    // The cache `fanout query` filled, with the Athena view text over a schema named as the
    // stack's database: the same view SQL string, unchanged.
    const cache = (await fanout(home, endpoint, 'query', 'SELECT 1')).stderr.match(
      / in (\S+)\n/,
    )?.[1];
    expect(cache).toBeDefined();
    const database = await openRecordsDatabase(cache ?? '');
    try {
      await database.query('CREATE SCHEMA fanout_dev');
      await database.query('CREATE VIEW fanout_dev.records AS SELECT * FROM main.records');
      const counts: Record<string, unknown> = {};
      for (const view of RECORD_VIEWS) {
        const sql = view.sql(SQL_ENGINES.athena.recordsTable('fanout_dev', 'records'));
        const athena = await database.query(`SELECT count(*) FROM (${sql})`);
        const local = await query(`SELECT count(*) AS n FROM ${view.name}`);
        counts[view.name] = [Number(athena.rows[0]?.[0]), local[0]?.n];
      }
      expect(counts).toEqual({ records_latest: [7, 7], records_changes: [9, 9] });
    } finally {
      database.close();
    }
  });

  it('peeks at a source with fanout records: its latest run, as exact JSON lines', async () => {
    const out = await fanout(home, endpoint, 'records', 'feed', '--limit', '2');
    expect(out.code).toBe(0);
    expect(out.stderr).toContain(`source feed, run ${results[2]?.runId}: 7 records, showing 2`);
    expect(
      out.stdout
        .split('\n')
        .slice(0, -1)
        .map((line) => JSON.parse(line)),
    ).toEqual([
      { id: 'a', title: 'A2' },
      { id: 'b', title: 'B2' },
    ]);
  });
});

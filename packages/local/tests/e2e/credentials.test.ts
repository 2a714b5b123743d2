import { readdir, readFile, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { topology } from '@fanout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CycleResult, LocalSession } from '../../src/session.js';
import { fanout } from '../cli/run-cli.js';
import {
  allOutcomes,
  getBytes,
  startE2eSession,
  startUpstream,
  stopE2e,
  stopUpstream,
  tempHome,
} from './helpers.js';

/**
 * No credential is ever echoed: not by an invalid manifest entry (in run.json, the
 * manager's log, `status --json`, the report, the CLI's own check), not by a secret on an
 * `Accept` header (never sent to another origin), not by an upstream that puts the secret
 * it was sent into the URL it redirects to (the stored page URL is scrubbed). Every stored
 * object, log file and CLI output is searched for the values: 0 hits. The only places they
 * may be are the two a user wrote: the source manifest and the local secrets file.
 */

// Distinctive values, so a search cannot miss them.
const PASSWORD = 'pw-c0ffee-51d3';
const QUERY_TOKEN = 'qt-b00c-7e21';
const PASTED = 'ghp_pasted9f3a1c7e';
const SECRET = 'tok-secret-4d2a8b';
const VALUES = [PASSWORD, QUERY_TOKEN, PASTED, SECRET];
const TIME = new Date('2026-07-04T06:00:00Z');

let home: string;
let api: Server;
let other: Server;
let session: LocalSession;
let result: CycleResult;
const reachedOther: IncomingHttpHeaders[] = [];
let echoed = '';

/** What `text` holds of the values, named by where it was found. */
function leaks(where: string, text: string): string[] {
  return VALUES.filter((value) => text.includes(value)).map((value) => `${where}: ${value}`);
}

function textOf(bytes: Buffer): string {
  return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
}

/** The source manifest as a user writes it: two good sources, three bad ones with credentials. */
function manifest(apiOrigin: string) {
  return {
    version: 1,
    sources: [
      {
        id: 'accept-secret',
        url: `${apiOrigin}/to-other`,
        format: 'json',
        headers: { Accept: { secret: 'ssm:/fanout/token' } },
        allowPrivateNetwork: true,
      },
      {
        id: 'echo',
        url: `${apiOrigin}/echo`,
        format: 'json',
        headers: { Authorization: { secret: 'ssm:/fanout/token', prefix: 'Bearer ' } },
        allowPrivateNetwork: true,
      },
      {
        id: 'ftp-creds',
        url: `ftp://user1:${PASSWORD}@example.com/x?token=${QUERY_TOKEN}`,
        format: 'json',
      },
      {
        id: 'unknown-key',
        url: `https://example.com/x?token=${QUERY_TOKEN}`,
        format: 'json',
        extra: true,
      },
      {
        id: 'pasted',
        url: 'https://example.com/x',
        format: 'json',
        headers: { Authorization: { secret: `Bearer ${PASTED}` } },
      },
    ],
  };
}

beforeAll(async () => {
  let otherOrigin: string;
  ({ server: other, origin: otherOrigin } = await startUpstream((req, res) => {
    reachedOther.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('[{"at":"other"}]');
  }));
  let apiOrigin: string;
  ({ server: api, origin: apiOrigin } = await startUpstream((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/to-other') {
      res.writeHead(302, { location: `${otherOrigin}/landing` }).end();
    } else if (path === '/echo') {
      // An upstream that puts the credential it was sent into the URL it redirects to.
      const token = String(req.headers.authorization).replace('Bearer ', '');
      res.writeHead(302, { location: `/okany/${token}` }).end();
    } else {
      echoed = path;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('[{"at":"api"}]');
    }
  }));
  home = await tempHome('credentials');
  await writeFile(join(home, 'secrets.json'), JSON.stringify({ ssm: { '/fanout/token': SECRET } }));
  session = await startE2eSession(home, { manifest: manifest(apiOrigin) });
  result = await session.cycle({ time: TIME, maxWaitMs: 120_000 });
}, 300_000);

afterAll(async () => {
  await stopUpstream(other);
  await stopE2e(session, api, home);
});

describe('no credential is ever echoed', () => {
  it('runs the cycle: the good sources collected, the bad entries failed by name', async () => {
    // Act
    const records = await session.records.records(result.runId);
    const outcomes = Object.fromEntries(
      allOutcomes(records.results).map(({ outcome }) => [outcome.sourceId, outcome.status]),
    );

    // Assess
    expect(result.status.complete).toBe(true);
    expect(outcomes).toEqual({ 'accept-secret': 'ok', echo: 'ok' });
    expect(records.manifest?.invalidSources.map((entry) => entry.id)).toEqual([
      'ftp-creds',
      'unknown-key',
      'pasted',
    ]);
    expect(echoed).toBe(`/okany/${SECRET}`);
  });

  it('sends a secret Accept header to the source origin only', () => {
    expect(reachedOther).toHaveLength(1);
    expect(JSON.stringify(reachedOther)).not.toContain(SECRET);
  });

  it('leaves no value in any object of the bucket but the source manifest (gunzipped where gzip)', async () => {
    // Prepare
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await session.cloud.s3.send(
        new ListObjectsV2Command({ Bucket: session.cloud.bucket, ContinuationToken: token }),
      );
      keys.push(...(page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : [])));
      token = page.NextContinuationToken;
    } while (token);

    // Act
    const found: string[] = [];
    const stored = new Map<string, string>();
    for (const key of keys) {
      const text = textOf(await getBytes(session.cloud.s3, session.cloud.bucket, key));
      stored.set(key, text);
      if (key !== topology.manifestKey) found.push(...leaks(key, text));
    }

    // Assess: the search finds what it looks for (the manifest holds what the user wrote).
    expect(leaks('manifest', stored.get(topology.manifestKey) ?? '')).toHaveLength(3);
    const runJson = stored.get(`runs/${result.runId}/run.json`) ?? '';
    expect(runJson).toContain(
      'must be http or https, got \\"ftp://example.com/x?token=REDACTED\\"',
    );
    expect(runJson).toContain('(not shown: it may be a credential)');
    const pack = [...stored].find(([key]) => key.startsWith('raw/packs/'))?.[1] ?? '';
    expect(pack).toContain('/okany/[secret]');
    expect(found).toEqual([]);
  });

  it('leaves no value in the logs, dead letters or any other file of the data folder', async () => {
    // Prepare
    const entries = await readdir(home, { withFileTypes: true, recursive: true });
    const files = entries
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name))
      .filter((file) => file !== join(home, 'secrets.json') && !file.includes('sources.json'));

    // Act
    const found: string[] = [];
    for (const file of files) found.push(...leaks(file, textOf(await readFile(file))));

    // Assess
    const managerLog = await readFile(join(home, 'logs', 'fanout-manager.log'), 'utf8');
    expect(managerLog).toContain('invalid source; recorded as a failed task');
    expect(found).toEqual([]);
  });

  it('prints no value in status, status --json, runs, the report, or the CLI check of the manifest', async () => {
    // Prepare
    const where = ['--endpoint', session.cloud.s3Endpoint];
    const out = join(home, 'report.html');
    const file = join(home, 'my-sources.json');
    await writeFile(file, JSON.stringify(manifest('http://127.0.0.1:1')));

    // Act
    const outputs = [
      await fanout('status', result.runId, ...where),
      await fanout('status', result.runId, '--json', ...where),
      await fanout('runs', ...where),
      await fanout('report', result.runId, '--out', out, ...where),
      await fanout('run', '--manifest', file, '--s3-port', '0', '--lambda-port', '0'),
    ];
    const report = await readFile(out, 'utf8');

    // Assess
    expect(outputs.map((output) => output.code)).toEqual([1, 1, 0, 0, 2]);
    expect(report).toContain('ftp-creds');
    expect(outputs[4]?.stderr).toContain('3 invalid entries; nothing was started');
    const found = [
      ...outputs.flatMap((output, i) => leaks(`output ${i}`, output.stdout + output.stderr)),
      ...leaks('report', report),
    ];
    expect(found).toEqual([]);
  });
});

import { readdir, readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CycleResult, LocalSession } from '../../src/session.js';
import {
  allOutcomes,
  getBytes,
  startE2eSession,
  startUpstream,
  stopE2e,
  tempHome,
} from './helpers.js';

// Values that must never be written anywhere: distinctive, so a search cannot miss them.
const TOKEN = 'tok-ssm-5b1f7e2d9a';
const QUERY_KEY = 'qk-ssm-c3e8a14f60';
const PARTNER = { user: 'partner-user-8d2c', password: 'pw-sm-0e7b93a6f1' };
const BASIC = Buffer.from(`${PARTNER.user}:${PARTNER.password}`).toString('base64');
const SECRET_VALUES = [TOKEN, QUERY_KEY, PARTNER.password, BASIC];
const TIME = new Date('2026-07-02T08:00:00Z');

let home: string;
let upstream: Server;
let origin: string;
let session: LocalSession;
let result: CycleResult;
const seen: { path: string; authorized: boolean }[] = [];

/** A real API that answers 401 unless it gets the right credential for the path. */
function api(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const authorized =
    url.pathname === '/bearer'
      ? req.headers.authorization === `Bearer ${TOKEN}`
      : url.pathname === '/basic'
        ? req.headers.authorization === `Basic ${BASIC}`
        : url.pathname === '/query'
          ? url.searchParams.get('api_key') === QUERY_KEY
          : false;
  seen.push({ path: url.pathname, authorized });
  if (!authorized) {
    res.writeHead(401, { 'content-type': 'text/plain' });
    res.end('unauthorized');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ items: [{ path: url.pathname, ok: true }] }));
}

function source(id: string, path: string, extra: Record<string, unknown>) {
  return {
    id,
    url: `${origin}${path}`,
    format: 'json',
    options: { recordsPath: 'items' },
    allowPrivateNetwork: true,
    ...extra,
  };
}

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

function text(bytes: Buffer): string {
  const isGzip = bytes[0] === 0x1f && bytes[1] === 0x8b;
  return (isGzip ? gunzipSync(bytes) : bytes).toString('utf8');
}

function leaks(where: string, content: string): string[] {
  return SECRET_VALUES.filter((value) => content.includes(value)).map(
    (v) => `${where}: ${v.slice(0, 6)}…`,
  );
}

beforeAll(async () => {
  ({ server: upstream, origin } = await startUpstream(api));
  home = await tempHome('secrets');
  // The git-ignored local secrets file the local SSM and Secrets Manager serve.
  await writeFile(
    join(home, 'secrets.json'),
    JSON.stringify({
      ssm: { '/fanout/api-token': TOKEN, '/fanout/query-key': QUERY_KEY },
      secretsmanager: { 'fanout/partner': PARTNER },
    }),
  );
  session = await startE2eSession(home, {
    manifest: {
      version: 1,
      sources: [
        source('bearer-ssm', '/bearer', {
          headers: { Authorization: { secret: 'ssm:/fanout/api-token', prefix: 'Bearer ' } },
        }),
        source('basic-sm', '/basic', {
          basicAuth: {
            username: { secret: 'secretsmanager:fanout/partner', key: 'user' },
            password: { secret: 'secretsmanager:fanout/partner', key: 'password' },
          },
        }),
        source('query-ssm', '/query', { query: { api_key: { secret: 'ssm:/fanout/query-key' } } }),
        source('missing-ref', '/bearer', {
          headers: { Authorization: { secret: 'ssm:/fanout/not-there', prefix: 'Bearer ' } },
        }),
        source('missing-key', '/basic', {
          basicAuth: {
            username: PARTNER.user,
            password: { secret: 'secretsmanager:fanout/partner', key: 'pass' },
          },
        }),
      ],
    },
  });
  result = await session.cycle({ time: TIME, maxWaitMs: 120_000 });
}, 300_000);

afterAll(() => stopE2e(session, upstream, home));

describe('secrets by reference, end to end on the local cloud', () => {
  it('collects the sources whose credentials resolve, with the credentials the API checks', async () => {
    // Act
    const records = await session.records.records(result.runId);
    const byId = Object.fromEntries(
      allOutcomes(records.results).map(({ outcome }) => [outcome.sourceId, outcome]),
    );

    // Assess
    expect(result.status.complete).toBe(true);
    expect(byId['bearer-ssm']).toMatchObject({ status: 'ok', httpStatus: 200 });
    expect(byId['basic-sm']).toMatchObject({ status: 'ok', httpStatus: 200 });
    expect(byId['query-ssm']).toMatchObject({ status: 'ok', httpStatus: 200 });
    expect(seen.filter((s) => !s.authorized)).toEqual([]);
    expect(result.status.parsed).toBeGreaterThanOrEqual(1);
  });

  it('fails only the sources with a bad reference, naming it and never a value', async () => {
    // Act
    const records = await session.records.records(result.runId);
    const byId = Object.fromEntries(
      allOutcomes(records.results).map(({ outcome }) => [outcome.sourceId, outcome]),
    );

    // Assess
    expect(byId['missing-ref']).toMatchObject({
      status: 'failed',
      reason:
        'secret ssm:/fanout/not-there does not exist (ParameterNotFound); create it or fix the reference',
    });
    expect(byId['missing-key']).toMatchObject({
      status: 'failed',
      reason: 'secret secretsmanager:fanout/partner has no JSON key "pass"',
    });
    expect(result.status.failed).toBe(2);
  });

  it('leaves no secret value in any object of the bucket (gunzipped where gzip)', async () => {
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
    for (const key of keys) {
      found.push(...leaks(key, text(await getBytes(session.cloud.s3, session.cloud.bucket, key))));
    }

    // Assess
    expect(keys.some((key) => key.startsWith('raw/'))).toBe(true);
    expect(keys.some((key) => key.startsWith('parsed/'))).toBe(true);
    expect(keys.some((key) => key.startsWith('manifest/'))).toBe(true);
    expect(found).toEqual([]);
  });

  it('leaves no secret value in the logs, the dead letters or any other file the session wrote', async () => {
    // Prepare
    const files = (await filesUnder(home)).filter((f) => f !== join(home, 'secrets.json'));

    // Act
    const found: string[] = [];
    for (const file of files) found.push(...leaks(file, text(await readFile(file))));

    // Assess
    // The search finds what it looks for: the secrets file holds every value but the encoded pair.
    const source = text(await readFile(join(home, 'secrets.json')));
    expect(leaks('secrets.json', source)).toHaveLength(SECRET_VALUES.length - 1);
    const logs = files.filter((f) => f.startsWith(join(home, 'logs')));
    expect(logs.length).toBeGreaterThan(0);
    const collectorLog = (await Promise.all(logs.map((f) => readFile(f, 'utf8')))).join('\n');
    expect(collectorLog).toContain('ssm:/fanout/not-there');
    expect(found).toEqual([]);
  });
});

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import {
  check,
  parsedKeyForRaw,
  RunManifestSchema,
  type RunStatus,
  runManifestKey,
  type SourceInput,
  type TaskOutcome,
} from '@fanout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import type { Io } from '../../src/commands/run.js';
import { RunRecordReader } from '../../src/run-records.js';
import type { LocalSession } from '../../src/session.js';
import {
  allOutcomes,
  getBytes,
  listKeys,
  readParsed,
  startE2eSession,
  startUpstream,
  stopE2e,
  tempHome,
} from './helpers.js';

/**
 * Sources across runs, through the local cloud with real HTTP sources:
 *   slow    took longer than a hop's budget once: still started (and collected) after
 *   items   stored with a wrong recordsPath (quarantined): `reparse` with the fixed manifest
 *           turns it into records with no fetch; the edited source is fetched in full once
 *   cut     a download cut by the hop's deadline whose resume then fails: no partial left
 *   huge    announces a body over the per-source limit: refused with no body byte sent
 */

const SLOW_FIRST_MS = 6_000;
const ITEMS = JSON.stringify({ data: { items: [{ id: 1 }, { id: 2 }, { id: 3 }] } });
const ITEMS_ETAG = '"items-v1"';
/** Past the collector's 8 MiB memory buffer, so the cut bytes are spooled and stored. */
const CUT_BYTES = 12 * 1024 * 1024;
const CUT_SENT = 9 * 1024 * 1024;
const CUT_BODY = Buffer.alloc(CUT_BYTES, '{"x":1}\n');

interface ItemsRequest {
  readonly ifNoneMatch: string | undefined;
  readonly status: number;
}

let home: string;
let upstream: Server;
let session: LocalSession;
let slowDelayMs = SLOW_FIRST_MS;
const itemsRequests: ItemsRequest[] = [];
/** The huge source's server sends headers only: a reader that waited for its body would time out. */
const huge = { requests: 0, closedAtHeaders: 0 };
const held: ServerResponse[] = [];
const statuses: RunStatus[] = [];
let origin: string;

function answer(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? '/';
  if (path === '/slow') {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.end(`${JSON.stringify({ at: Date.now() })}\n`);
    }, slowDelayMs);
    return;
  }
  if (path === '/items') {
    const ifNoneMatch = req.headers['if-none-match'];
    const status = ifNoneMatch === ITEMS_ETAG ? 304 : 200;
    itemsRequests.push({ ifNoneMatch, status });
    res.writeHead(status, { etag: ITEMS_ETAG, 'content-type': 'application/json' });
    res.end(status === 200 ? ITEMS : undefined);
    return;
  }
  if (path === '/cut') {
    const common = { etag: '"cut-v1"', 'accept-ranges': 'bytes' };
    if (req.headers.range) {
      // The stored bytes can never be continued: the resume fails.
      res.writeHead(503, common);
      res.end();
      return;
    }
    res.writeHead(200, { ...common, 'content-length': CUT_BYTES });
    held.push(res);
    res.write(CUT_BODY.subarray(0, CUT_SENT)); // then nothing more: the hop's deadline cuts it
    return;
  }
  if (path === '/huge') {
    huge.requests += 1;
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'content-length': 30_000_000 });
    res.flushHeaders();
    held.push(res);
    res.on('close', () => {
      if (!res.writableFinished) huge.closedAtHeaders += 1;
    });
    return;
  }
  res.writeHead(404);
  res.end();
}

function manifest(recordsPath: string): { version: 1; sources: SourceInput[] } {
  const entry = (id: string, extra: Partial<SourceInput> = {}): SourceInput => ({
    id,
    url: `${origin}/${id}`,
    format: 'ndjson',
    allowPrivateNetwork: true,
    timeoutMs: 30_000,
    ...extra,
  });
  return {
    version: 1,
    sources: [
      entry('slow'),
      entry('items', { format: 'json', options: { recordsPath } }),
      entry('cut'),
      entry('huge'),
    ],
  };
}

async function cycle(time: string): Promise<RunStatus> {
  const result = await session.cycle({ time: new Date(time), maxWaitMs: 240_000 });
  statuses.push(result.status);
  return result.status;
}

async function outcomesOf(runId: string): Promise<Map<string, TaskOutcome>> {
  const records = await session.records.records(runId);
  return new Map(allOutcomes(records.results).map(({ outcome }) => [outcome.sourceId, outcome]));
}

async function fanout(...argv: string[]): Promise<{ code: number; stdout: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => out.push(chunk));
  const code = await main(argv, { stdout, stderr } as unknown as Io);
  return { code, stdout: Buffer.concat(out).toString('utf8') };
}

beforeAll(async () => {
  home = await tempHome('sources');
  ({ server: upstream, origin } = await startUpstream(answer));
  session = await startE2eSession(home, { manifest: manifest('data.itemz') });
}, 300_000);

afterAll(async () => {
  for (const res of held) res.destroy();
  await stopE2e(session, upstream, home);
});

describe('the first cycle', () => {
  let outcomes: Map<string, TaskOutcome>;

  beforeAll(async () => {
    await cycle('2026-07-03T10:00:00Z');
    outcomes = await outcomesOf('20260703T100000Z');
  }, 300_000);

  it('refuses the body announced over the limit at its headers, reading none of it', async () => {
    expect(outcomes.get('huge')).toMatchObject({
      status: 'failed',
      permanent: true,
      reason:
        'Content-Length 30000000 exceeds the limit of 29360128 bytes; the body was not downloaded',
    });
    // Each request closed by the collector at its headers, none retried by the collector (a
    // busy machine may run the hop twice: a Lambda retry asks again, and is closed the same way).
    expect(huge.requests).toBeGreaterThanOrEqual(1);
    await expect.poll(() => huge.closedAtHeaders, { timeout: 10_000 }).toBe(huge.requests);
    expect(outcomes.get('huge')?.attempts).toBe(1);
  });

  it('fails the download whose resume failed, and leaves no partial object behind', async () => {
    expect(outcomes.get('cut')).toMatchObject({ status: 'failed', httpStatus: 503 });
    // It was cut, and resumed from stored bytes (the Range request is what was refused).
    expect((outcomes.get('cut')?.attempts ?? 0) > 1).toBe(true);
    expect(await listKeys(session.records, 'runs/20260703T100000Z/partial/')).toEqual([]);
  });

  it('quarantines the page stored with the wrong recordsPath', () => {
    expect(outcomes.get('items')?.status).toBe('ok');
    expect(statuses[0]?.quarantined).toBe(1);
  });
});

describe('fanout reparse after the manifest is fixed', () => {
  let code: number;
  let stdout: string;
  let fetchesBefore: number;

  beforeAll(async () => {
    await session.cloud.putManifest(manifest('data.items'));
    fetchesBefore = itemsRequests.length;
    ({ code, stdout } = await fanout(
      'reparse',
      'raw/',
      '--endpoint',
      session.cloud.s3Endpoint,
      '--lambda-endpoint',
      session.cloud.lambdaEndpoint,
    ));
  }, 300_000);

  it('turns the quarantined page into records, with no fetch', async () => {
    expect(code, stdout).toBe(0);
    expect(stdout).toContain('with the current manifest definitions');
    expect(itemsRequests.length).toBe(fetchesBefore);
    const records = await session.records.records('20260703T100000Z');
    const items = allOutcomes(records.results).find(({ outcome }) => outcome.sourceId === 'items');
    const rawKey = items?.outcome.status === 'ok' ? items.outcome.rawKeys[0] : undefined;
    if (rawKey === undefined) throw new Error('items has no raw object');
    const lines = await readParsed(session.cloud.s3, session.cloud.bucket, parsedKeyForRaw(rawKey));
    expect(lines.filter((line) => line.source === 'items').map((line) => line.record)).toEqual([
      { id: 1 },
      { id: 2 },
      { id: 3 },
    ]);
    // A fresh reader, as `fanout status` is: the session's remembers the first outcome.
    const fresh = new RunRecordReader(session.cloud.s3, session.cloud.bucket);
    expect((await fresh.status('20260703T100000Z')).quarantined).toBe(0);
  });
});

describe('the next three cycles', () => {
  const runs = ['20260703T101000Z', '20260703T102000Z', '20260703T103000Z'];
  const outcomes: Map<string, TaskOutcome>[] = [];
  let slowEstimateMs = 0;

  beforeAll(async () => {
    slowDelayMs = 200;
    for (const [i, time] of [
      '2026-07-03T10:10:00Z',
      '2026-07-03T10:20:00Z',
      '2026-07-03T10:30:00Z',
    ].entries()) {
      await cycle(time);
      outcomes.push(await outcomesOf(runs[i] ?? ''));
    }
    const planned = check(
      RunManifestSchema,
      JSON.parse(
        (
          await getBytes(session.cloud.s3, session.cloud.bucket, runManifestKey(runs[0] ?? ''))
        ).toString('utf8'),
      ),
    );
    if (!planned.ok) throw new Error(planned.issues.join('; '));
    slowEstimateMs = planned.value.state?.sources.slow?.durationsMs[0] ?? 0;
  }, 600_000);

  it('start the source that once took longer than a hop can give, and collect it each time', () => {
    // The first cycle measured it above the hop's budget (8 s less the 2 s margin).
    expect(slowEstimateMs).toBeGreaterThanOrEqual(SLOW_FIRST_MS);
    for (const run of outcomes) expect(run.get('slow')?.status).toBe('ok');
  });

  it('fetch the edited source in full once, then conditionally', () => {
    const afterReparse = itemsRequests.slice(-3);
    expect(afterReparse).toEqual([
      { ifNoneMatch: undefined, status: 200 },
      { ifNoneMatch: ITEMS_ETAG, status: 304 },
      { ifNoneMatch: ITEMS_ETAG, status: 304 },
    ]);
    expect(outcomes.map((run) => run.get('items')?.status)).toEqual([
      'ok',
      'unchanged',
      'unchanged',
    ]);
    expect(statuses.slice(1).every((status) => status.quarantined === 0)).toBe(true);
  });

  it('leave no partial object of any run', async () => {
    expect(
      (await listKeys(session.records, 'runs/')).filter((key) => key.includes('/partial/')),
    ).toEqual([]);
  });
});

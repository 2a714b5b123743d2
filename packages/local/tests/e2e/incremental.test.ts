import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { type RunStatus, type SourceInput, timeOfRunId } from '@fanout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import type { Io } from '../../src/commands/run.js';
import { RunRecordReader } from '../../src/run-records.js';
import type { LocalSession } from '../../src/session.js';
import {
  type CycleRead,
  cycleAndRead,
  getBytes,
  parsedKeysOfRun,
  readParsed,
  startE2eSession,
  startUpstream,
  stopE2e,
  tempHome,
} from './helpers.js';

/**
 * Sources that emit only what changed, and sources read incrementally, through the local
 * cloud with a real HTTP server. Every cycle the upstream adds two items and changes one.
 *
 *   feed            rss, key id: every record of every fetch (the reference)
 *   feed-changes    the same feed, emit: "changes"
 *   api             json, cursor { field: updated, param: since }: the server answers with
 *                   the items updated at or after `since` (inclusive, as many APIs do)
 *   api-all         the same items, cursor { field: updated } without param: all, every time
 *
 * Cycles 0-2 as scheduled; cycle 3 finds feed-changes and api down, and `fanout replay`
 * collects them once they are back; cycle 4 is reparsed (`fanout reparse`); cycles 4 and 5
 * check what comes after the replay and the reparse.
 */

interface Item {
  readonly id: string;
  readonly title: string;
  readonly updated: string;
}

const START = Date.parse('2026-12-06T10:00:00Z');
const CYCLES = 6;

/** When the upstream changed things at cycle `k`: a minute apart, with a fraction and an offset. */
function at(k: number, n: number): string {
  const ms = START + k * 600_000 + n * 60_000 + 250;
  // The second item of a cycle is written with a +01:00 offset: the same instant, other text.
  if (n === 2) {
    return new Date(ms + 3_600_000).toISOString().replace('Z', '+01:00');
  }
  return new Date(ms).toISOString();
}

/** The items at cycle `k`: three at first, then each cycle changes one and adds two. */
function itemsAt(k: number): Item[] {
  const items = new Map<string, Item>();
  const add = (id: string, version: number, updated: string) =>
    items.set(id, { id, title: `${id} v${version}`, updated });
  for (let n = 0; n < 3; n += 1) add(`i${n}`, 1, at(0, n));
  for (let c = 1; c <= k; c += 1) {
    const changed = `i${c - 1}`;
    const version = Number(items.get(changed)?.title.split(' v')[1] ?? 1) + 1;
    add(changed, version, at(c, 0));
    add(`i${1 + 2 * c}`, 1, at(c, 1));
    add(`i${2 + 2 * c}`, 1, at(c, 2));
  }
  return [...items.values()];
}

/** What the upstream changed at cycle `k` (all of it at cycle 0). */
function changedAt(k: number): string[] {
  return k === 0 ? ['i0', 'i1', 'i2'] : [`i${k - 1}`, `i${1 + 2 * k}`, `i${2 + 2 * k}`].sort();
}

const rss = (items: readonly Item[]) =>
  `<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>${items
    .map(
      (item) =>
        `<item><guid>${item.id}</guid><title>${item.title}</title><pubDate>${new Date(item.updated).toUTCString()}</pubDate></item>`,
    )
    .join('')}</channel></rss>`;

let cycle = 0;
const down = new Set<string>();
/** The `since` of each request to /api (undefined: none), in order. */
const sinceAsked: (string | undefined)[] = [];

function answer(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://upstream');
  if (down.has(url.pathname)) {
    res.writeHead(503).end();
    return;
  }
  const items = itemsAt(cycle);
  if (url.pathname === '/feed' || url.pathname === '/feed-changes') {
    res.writeHead(200, { 'content-type': 'application/rss+xml' }).end(rss(items));
    return;
  }
  if (url.pathname === '/api' || url.pathname === '/api-all') {
    const since = url.searchParams.get('since') ?? undefined;
    if (url.pathname === '/api') sinceAsked.push(since);
    const listed =
      since === undefined
        ? items
        : items.filter((item) => Date.parse(item.updated) >= Date.parse(since));
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ items: listed }));
    return;
  }
  res.writeHead(404).end();
}

let home: string;
let upstream: Server;
let session: LocalSession;
let origin: string;
const reads: CycleRead[] = [];

function manifest(): { version: 1; sources: SourceInput[] } {
  const entry = (id: string, extra: Partial<SourceInput>): SourceInput => ({
    id,
    url: `${origin}/${id}`,
    format: 'rss',
    key: ['id'],
    allowPrivateNetwork: true,
    ...extra,
  });
  return {
    version: 1,
    sources: [
      entry('feed', {}),
      entry('feed-changes', { emit: 'changes' }),
      entry('api', {
        format: 'json',
        options: { recordsPath: 'items' },
        cursor: { field: 'updated', param: 'since' },
      }),
      entry('api-all', {
        format: 'json',
        options: { recordsPath: 'items' },
        cursor: { field: 'updated' },
      }),
    ],
  };
}

/** `fanout` as a user runs it against the session (`work`: a command that sends work too). */
async function fanout(work: boolean, ...argv: string[]): Promise<{ code: number; out: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => out.push(chunk));
  const where = ['--endpoint', session.cloud.s3Endpoint];
  if (work) where.push('--lambda-endpoint', session.cloud.lambdaEndpoint);
  const previous = process.env.FANOUT_HOME;
  process.env.FANOUT_HOME = home;
  try {
    const code = await main([...argv, ...where], { stdout, stderr } as unknown as Io);
    return { code, out: Buffer.concat(out).toString('utf8') };
  } finally {
    if (previous === undefined) delete process.env.FANOUT_HOME;
    else process.env.FANOUT_HOME = previous;
  }
}

/** The values in order, a value asked again at once (a hop run twice) counted once. */
function asked(): (string | undefined)[] {
  return sinceAsked.filter((since, i) => i === 0 || since !== sinceAsked[i - 1]);
}

async function runCycle(k: number): Promise<CycleRead> {
  cycle = k;
  const read = await cycleAndRead(session, new Date(START + k * 600_000));
  reads[k] = read;
  return read;
}

/** Every record a run wrote for `source` (replayed batches included), as `id title`, sorted. */
async function writtenFor(runId: string, source: string): Promise<string[]> {
  const lines = [];
  for (const key of await parsedKeysOfRun(session.records, runId)) {
    lines.push(...(await readParsed(session.cloud.s3, session.cloud.bucket, key)));
  }
  return lines
    .filter((line) => line.source === source)
    .map((line) => (line.record as Item).id)
    .sort();
}

async function query(sql: string): Promise<Record<string, unknown>[]> {
  const { code, out } = await fanout(false, 'query', sql, '--json');
  expect(code, out).toBe(0);
  return out
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeAll(async () => {
  home = await tempHome('incremental');
  ({ server: upstream, origin } = await startUpstream(answer));
  session = await startE2eSession(home, { manifest: manifest() });
}, 300_000);

afterAll(() => stopE2e(session, upstream, home));

describe('three cycles: two items added and one changed each time', () => {
  beforeAll(async () => {
    for (let k = 0; k < 3; k += 1) await runCycle(k);
  }, 600_000);

  it('collects and parses every source each cycle', () => {
    for (const read of reads.slice(0, 3)) {
      expect(read.result.status).toMatchObject({ complete: true, collected: 4, parsed: 4 });
      expect(read.problems).toEqual([]);
    }
  });

  it('emit: "changes" writes exactly the new and changed records (all of them the first time)', async () => {
    for (let k = 0; k < 3; k += 1) {
      const runId = reads[k]?.result.runId ?? '';
      expect(await writtenFor(runId, 'feed-changes'), `cycle ${k}`).toEqual(changedAt(k));
      expect(await writtenFor(runId, 'feed'), `cycle ${k}`).toHaveLength(3 + 2 * k);
    }
  });

  it('sends the highest cursor value seen as `since`, and writes only what is newer', async () => {
    expect(asked()).toEqual([undefined, at(0, 2), at(1, 2)]);
    for (let k = 0; k < 3; k += 1) {
      const runId = reads[k]?.result.runId ?? '';
      expect(await writtenFor(runId, 'api'), `cycle ${k}`).toEqual(changedAt(k));
      expect(await writtenFor(runId, 'api-all'), `cycle ${k}`).toEqual(changedAt(k));
    }
  });

  it('gives the same records_changes and records_latest as a source that writes everything', async () => {
    // records_changes: each version at the fetch it first appeared in, for both. records_latest:
    // the same versions; its run is the fetch that last wrote the version (a source that
    // emits changes does not write it again while it stays the same).
    for (const [view, columns] of [
      ['records_changes', 'key, hash, run'],
      ['records_latest', 'key, hash'],
    ]) {
      const rows = await query(`SELECT source, ${columns} FROM ${view} ORDER BY key, hash`);
      const of = (source: string) =>
        rows.filter((row) => row.source === source).map(({ source: _s, ...rest }) => rest);
      expect(of('feed').length).toBeGreaterThan(0);
      expect(of('feed-changes'), view).toEqual(of('feed'));
      expect(of('api'), view).toEqual(of('api-all'));
    }
    // records_changes holds each version once: 3 + 3 + 3 for each source.
    const counts = await query(
      'SELECT source, count(*) AS n FROM records_changes GROUP BY source ORDER BY source',
    );
    expect(counts).toEqual([
      { source: 'api', n: 9 },
      { source: 'api-all', n: 9 },
      { source: 'feed', n: 9 },
      { source: 'feed-changes', n: 9 },
    ]);
  });
});

describe('a replay, and the cycle after it', () => {
  let replayed: { code: number; out: string };
  let replayedStatus: RunStatus;

  beforeAll(async () => {
    down.add('/feed-changes');
    down.add('/api');
    await runCycle(3);
    down.clear();
    replayed = await fanout(true, 'replay', reads[3]?.result.runId ?? '');
    // Against a running cloud the replay sends the work and returns: it runs on its own.
    await session.cloud.settled();
    replayedStatus = await new RunRecordReader(session.cloud.s3, session.cloud.bucket).status(
      reads[3]?.result.runId ?? '',
    );
    await runCycle(4);
  }, 600_000);

  it('fails the two sources in cycle 3, and the replay collects them', () => {
    expect(reads[3]?.result.status).toMatchObject({ complete: true, collected: 2, failed: 2 });
    expect(replayed.out).toContain('tasks re-sent              2');
    expect(replayedStatus).toMatchObject({ complete: true, collected: 4, failed: 0, parsed: 4 });
  });

  it('the replayed fetch writes what changed since cycle 2; cycle 4 what changed since the replay', async () => {
    const run3 = reads[3]?.result.runId ?? '';
    const run4 = reads[4]?.result.runId ?? '';
    expect(await writtenFor(run3, 'feed-changes')).toEqual(changedAt(3));
    expect(await writtenFor(run3, 'api')).toEqual(changedAt(3));
    expect(await writtenFor(run4, 'feed-changes')).toEqual(changedAt(4));
    expect(await writtenFor(run4, 'api')).toEqual(changedAt(4));
    // The replay asked from cycle 2's highest value, cycle 4 from the replay's.
    expect(asked().slice(3)).toEqual([at(2, 2), at(3, 2)]);
  });
});

describe('a reparse, and the cycle after it', () => {
  let before: Buffer[];
  let after: Buffer[];
  let reparsed: { code: number; out: string };
  let keys: string[];

  beforeAll(async () => {
    const run4 = reads[4]?.result.runId ?? '';
    keys = await parsedKeysOfRun(session.records, run4);
    const read = () =>
      Promise.all(keys.map((key) => getBytes(session.cloud.s3, session.cloud.bucket, key)));
    before = await read();
    const date = timeOfRunId(run4)?.toISOString().slice(0, 10);
    reparsed = await fanout(true, 'reparse', `raw/packs/dt=${date}/${run4}-`);
    after = await read();
    await runCycle(5);
  }, 600_000);

  it('writes the same bytes again: the pages carry what they were fetched with', () => {
    expect(reparsed.code, reparsed.out).toBe(0);
    expect(keys.length).toBeGreaterThan(0);
    expect(after).toEqual(before);
  });

  it("cycle 5 writes what changed since cycle 4, asking from cycle 4's highest value", async () => {
    const run5 = reads[5]?.result.runId ?? '';
    expect(await writtenFor(run5, 'feed-changes')).toEqual(changedAt(5));
    expect(await writtenFor(run5, 'api')).toEqual(changedAt(5));
    expect(await writtenFor(run5, 'api-all')).toEqual(changedAt(5));
    expect(asked().slice(5)).toEqual([at(4, 2)]);
  });

  it('keeps the views equal to the sources that write everything, over all six cycles', async () => {
    const rows = await query(
      'SELECT source, key, hash, run FROM records_changes ORDER BY key, hash',
    );
    const of = (source: string) =>
      rows.filter((row) => row.source === source).map(({ source: _s, ...rest }) => rest);
    expect(of('feed')).toHaveLength(3 * CYCLES);
    expect(of('feed-changes')).toEqual(of('feed'));
    expect(of('api')).toEqual(of('api-all'));
  });
});

import type { Clock, CollectorTask } from '@fanout/shared';
import {
  followBatchId,
  followTaskId,
  isFollowBatchId,
  parseCollectorPayload,
} from '@fanout/shared';
import { describe, expect, it } from 'vitest';
import {
  collectBatch,
  type Discovered,
  OriginGate,
  planFollow,
  realSleep,
  robotsToken,
  runPoolByOrigin,
} from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { payload } from '../helpers/payloads.js';
import { fakeS3, scriptedTransport } from '../helpers/transport.js';

/** A clock that only moves when something sleeps on it. */
function virtualTime(start = Date.parse('2026-11-25T13:10:00Z')) {
  let now = start;
  const slept: number[] = [];
  const clock: Clock = { now: () => now };
  const sleep = async (ms: number, signal: AbortSignal) => {
    signal.throwIfAborted();
    slept.push(ms);
    now += ms;
  };
  return { clock, sleep, slept, at: () => now - start };
}

const A = 'https://a.example.test';
const B = 'https://b.example.test';

describe('OriginGate', () => {
  it('starts requests to a paced origin 60 s / perMinute apart, others at once', async () => {
    const time = virtualTime();
    const gate = new OriginGate({ [A]: { perMinute: 120 } }, time.clock, time.sleep);
    const signal = new AbortController().signal;
    const starts: [string, number][] = [];
    for (const origin of [A, A, B, A, B]) {
      const release = await gate.acquire(origin, signal);
      starts.push([origin, time.at()]);
      release();
    }
    expect(starts).toEqual([
      [A, 0],
      [A, 500],
      [B, 500],
      [A, 1000],
      [B, 1000],
    ]);
  });

  it('holds a request while its share of the origin is taken, until one is released', async () => {
    const time = virtualTime();
    const gate = new OriginGate({ [A]: { concurrency: 1 } }, time.clock, time.sleep);
    const signal = new AbortController().signal;
    const release = await gate.acquire(A, signal);
    let second = false;
    const waiting = gate.acquire(A, signal).then((done) => {
      second = true;
      return done;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(second).toBe(false);
    release();
    (await waiting)();
    expect(second).toBe(true);
  });

  it('pauses only the origin that sent Retry-After, and tells its next start', async () => {
    const time = virtualTime();
    const gate = new OriginGate(undefined, time.clock, time.sleep);
    gate.pause(A, 2_000);
    expect(gate.hasRoomForTask(A)).toBe(false);
    expect(gate.hasRoomForTask(B)).toBe(true);
    const signal = new AbortController().signal;
    (await gate.acquire(B, signal))();
    expect(time.at()).toBe(0);
    (await gate.acquire(A, signal))();
    expect(time.at()).toBe(2_000);
    expect(gate.nextStart(A)).toBe(Date.parse('2026-11-25T13:10:00Z') + 2_000);
  });

  it('starts no request before the time the hop before paced up to', async () => {
    const time = virtualTime();
    const notBefore = new Date(Date.parse('2026-11-25T13:10:00Z') + 750).toISOString();
    const gate = new OriginGate({ [A]: { perMinute: 60, notBefore } }, time.clock, time.sleep);
    (await gate.acquire(A, new AbortController().signal))();
    expect(time.at()).toBe(750);
  });
});

describe('runPoolByOrigin', () => {
  it('keeps each origin within its share and lets other origins go on past it', async () => {
    const time = virtualTime();
    const gate = new OriginGate({ [A]: { concurrency: 1 } }, time.clock, time.sleep);
    const items = [A, A, A, B, B];
    const events: string[] = [];
    let inFlightA = 0;
    let mostA = 0;
    await runPoolByOrigin(
      items,
      3,
      (origin) => origin,
      gate,
      async (origin, index) => {
        events.push(`start ${index}`);
        if (origin === A) mostA = Math.max(mostA, ++inFlightA);
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (origin === A) inFlightA -= 1;
      },
    );
    expect(mostA).toBe(1);
    // B's items did not wait behind A's: both started among the first three.
    expect(events.slice(0, 3)).toEqual(['start 0', 'start 3', 'start 4']);
  });

  it("runs a paused origin's items when nothing else is left to run (the pause ends on its own)", async () => {
    const time = virtualTime();
    const gate = new OriginGate(undefined, time.clock, time.sleep);
    gate.pause(A, 3_000);
    const started: number[] = [];
    await runPoolByOrigin(
      [A, A],
      2,
      (origin) => origin,
      gate,
      async (origin) => {
        (await gate.acquire(origin, new AbortController().signal))();
        started.push(time.at());
      },
    );
    expect(started).toEqual([3_000, 3_000]);
  });
});

function listInput(id: string, url: string) {
  return {
    source: {
      id,
      url,
      format: 'html',
      options: { fields: { name: 'h2' } },
      follow: { links: 'a@href', format: 'html', options: { fields: { name: 'h1' } } },
    },
  };
}

function found(task: CollectorTask, count: number): Discovered {
  const links = Array.from({ length: count }, (_, i) => {
    const url = `${new URL(task.source.url).origin}/product/${i + 1}`;
    return {
      id: followTaskId(task.source.id, url),
      sourceId: task.source.id,
      url,
      from: task.source.url,
    };
  });
  return { task, links, counts: { found: count, followed: count }, estimateMs: 100 };
}

describe('planFollow', () => {
  it('spreads detail pages over new batches, splitting the origin share among them', () => {
    const hop = payload([listInput('shop', `${A}/list`)], {
      origins: { [A]: { concurrency: 2, perMinute: 120 } },
      followSpread: { tasksPerBatch: 10, maxBatches: 20 },
    });
    const list = hop.tasks[0] as CollectorTask;
    const plan = planFollow(hop, [found(list, 30)], [], undefined, 0);
    expect(plan.batches).toHaveLength(2);
    expect(plan.batches.map((b) => b.tasks.length)).toEqual([15, 15]);
    expect(plan.batches.map((b) => b.origins)).toEqual([
      { [A]: { concurrency: 1, perMinute: 60 } },
      { [A]: { concurrency: 1, perMinute: 60 } },
    ]);
    expect(plan.batches.every((b) => isFollowBatchId(b.batchId))).toBe(true);
    expect(plan.batches[0]?.batchId).toBe(followBatchId(hop.batchId, hop.hop, 0));
    expect(plan.followed.map((f) => f.links.length)).toEqual([15, 15]);
    // The share went to the new batches: the continuation keeps none of it.
    expect(plan.continuationOrigins).toBeUndefined();
    for (const batch of plan.batches) expect(() => parseCollectorPayload(batch)).not.toThrow();
  });

  it('hands them to the continuation when it still works their limited origin', () => {
    const hop = payload([listInput('shop', `${A}/list`), listInput('more', `${A}/more`)], {
      origins: { [A]: { concurrency: 1 } },
    });
    const [list, other] = hop.tasks as [CollectorTask, CollectorTask];
    const plan = planFollow(hop, [found(list, 5)], [other], undefined, 0);
    expect(plan.batches).toEqual([]);
    expect(plan.joined).toHaveLength(5);
    expect(plan.followed).toEqual([
      expect.objectContaining({ batchId: hop.batchId, hop: hop.hop + 1 }),
    ]);
    expect(plan.continuationOrigins).toEqual({ [A]: { concurrency: 1 } });
  });

  it('spreads detail pages of an unlimited origin by the batch limits alone', () => {
    const hop = payload([listInput('shop', `${A}/list`)], {
      followSpread: { tasksPerBatch: 20, maxBatches: 2 },
    });
    const plan = planFollow(hop, [found(hop.tasks[0] as CollectorTask, 60)], [], undefined, 0);
    expect(plan.batches.map((b) => b.tasks.length)).toEqual([30, 30]);
    expect(plan.batches.every((b) => b.origins === undefined)).toBe(true);
  });
});

describe('robots.txt user agent', () => {
  it('matches groups by the product token of the User-Agent', () => {
    expect(robotsToken('ShopWatch/2.0 (+https://example.test/bot)')).toBe('ShopWatch');
    expect(robotsToken('Mozilla/5.0 (compatible; FanoutBot/1.0; +https://x.test)')).toBe(
      'FanoutBot',
    );
    expect(robotsToken('fanout-collector/0.1')).toBe('fanout-collector');
  });
});

describe('a 429 with Retry-After in a batch', () => {
  it('slows that origin only: the other origin is not held back', async () => {
    const started = Date.now();
    const asked: [string, number][] = [];
    const transport = scriptedTransport((request) => {
      asked.push([request.url.href, Date.now() - started]);
      const first = asked.filter(([url]) => url === request.url.href).length === 1;
      if (request.url.href === `${A}/1` && first) {
        return { status: 429, headers: { 'retry-after': '1' } };
      }
      return { status: 200, body: '{"items":[]}' };
    });
    const deps = await testDeps({ s3: fakeS3(), transport });
    const tasks = [`${A}/1`, `${A}/2`, `${A}/3`, `${B}/1`, `${B}/2`].map((url, i) => ({
      source: { id: `s${i}`, url, options: { recordsPath: 'items' } },
    }));
    const summary = await collectBatch(payload(tasks), {
      ...deps,
      sleep: realSleep,
      settings: { ...deps.settings, concurrency: 2 },
    });
    expect(summary.ok).toBe(5);
    const when = (url: string) => asked.filter(([asked]) => asked === url).map(([, at]) => at);
    const order = asked.map(([url]) => url);
    const retried = order.lastIndexOf(`${A}/1`);
    // B went on past A's third task, which waited (without a lane) for the second A asked
    // for, as did the retry; the lane the retry held was the only one A took.
    expect(order.indexOf(`${B}/1`)).toBeLessThan(retried);
    expect(order.indexOf(`${B}/2`)).toBeLessThan(retried);
    expect(order.indexOf(`${B}/2`)).toBeLessThan(order.indexOf(`${A}/3`));
    expect(when(`${A}/1`)).toHaveLength(2);
    expect(when(`${A}/1`)[1]).toBeGreaterThanOrEqual(950);
    expect(when(`${A}/3`)[0]).toBeGreaterThanOrEqual(950);
  });
});

import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type { RunRecords } from '@fanout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import type { Io } from '../../src/commands/run.js';
import { LocalSession } from '../../src/session.js';
import {
  E2E_COLLECTOR_TIMEOUT_SECONDS,
  E2E_RETRY_DELAY_SCALE,
  E2E_SLOW_DELAY_MS,
  removeHome,
  tempHome,
} from '../e2e/helpers.js';
import { type Browser, launchChromium, type Page } from './cdp.js';

/**
 * A real local cycle, its `fanout report` page opened in headless Chromium: the page
 * loads nothing but itself, logs no error, and its timeline bars (read from the DOM)
 * are the run's hop records. Run with `pnpm test:browser` (not part of `pnpm test`).
 */

interface DomBar {
  kind: string;
  batch?: string;
  hop?: string;
  rawKey?: string;
  startMs: number;
  endMs: number;
  left: number;
  width: number;
}

let home: string | undefined;
let browser: Browser | undefined;
let page: Page;
let records: RunRecords;
let fileUrl = '';
let svg: { left: number; width: number; originMs: number; endMs: number };
let bars: DomBar[] = [];
const previousHome = process.env.FANOUT_HOME;

async function fanout(...argv: string[]): Promise<number> {
  const sink = new PassThrough();
  sink.resume();
  return main(argv, { stdout: sink, stderr: sink } as unknown as Io);
}

async function evaluate<T>(expression: string): Promise<T> {
  const out = await page.send('Runtime.evaluate', { expression, returnByValue: true });
  if (out.exceptionDetails)
    throw new Error(`evaluate failed: ${JSON.stringify(out.exceptionDetails)}`);
  return (out.result as { value: T }).value;
}

beforeAll(async () => {
  home = await tempHome('browser');
  const session = await LocalSession.start({
    home,
    s3Port: 0,
    lambdaPort: 0,
    functions: { collector: { timeoutSeconds: E2E_COLLECTOR_TIMEOUT_SECONDS } },
    retryDelayScale: E2E_RETRY_DELAY_SCALE,
    // The slow source outlasts an invocation, so the run has a continuation hop.
    demo: { port: 0, count: 6, slowDelayMs: E2E_SLOW_DELAY_MS },
  });
  let runId: string;
  try {
    runId = (await session.cycle({ time: new Date('2026-11-29T08:30:00Z'), maxWaitMs: 180_000 }))
      .runId;
    records = await session.records.records(runId);
  } finally {
    await session.stop();
  }
  process.env.FANOUT_HOME = home;
  const file = join(home, `report-${runId}.html`);
  expect(await fanout('report', runId, '--out', file)).toBe(0);
  fileUrl = pathToFileURL(file).href;

  browser = await launchChromium();
  page = browser.page;
  await Promise.all([
    page.send('Runtime.enable'),
    page.send('Log.enable'),
    page.send('Network.enable'),
    page.send('Page.enable'),
  ]);
  await page.send('Page.navigate', { url: fileUrl });
  await page.waitFor('Page.loadEventFired', 60_000);
  svg = await evaluate(`(() => {
    const svg = document.getElementById('timeline');
    const box = svg.getBoundingClientRect();
    return { left: box.left, width: box.width, originMs: Number(svg.dataset.originMs), endMs: Number(svg.dataset.endMs) };
  })()`);
  bars = await evaluate(`[...document.querySelectorAll('#timeline rect.bar')].map((rect) => {
    const box = rect.getBoundingClientRect();
    return {
      kind: rect.dataset.kind, batch: rect.dataset.batch, hop: rect.dataset.hop, rawKey: rect.dataset.rawKey,
      startMs: Number(rect.dataset.startMs), endMs: Number(rect.dataset.endMs),
      left: box.left, width: box.width,
    };
  })`);
}, 400_000);

afterAll(async () => {
  await browser?.close();
  if (previousHome === undefined) delete process.env.FANOUT_HOME;
  else process.env.FANOUT_HOME = previousHome;
  await removeHome(home);
});

describe('the report in a browser', () => {
  it('requests nothing but the file itself', () => {
    // Act
    const urls = page.events
      .filter((event) => event.method === 'Network.requestWillBeSent')
      .map((event) => (event.params.request as { url: string }).url);
    // Assess
    expect(urls).toEqual([fileUrl]);
  });

  it('logs no console error and throws no exception', () => {
    // Act
    const errors = page.events.filter(
      (event) =>
        event.method === 'Runtime.exceptionThrown' ||
        (event.method === 'Runtime.consoleAPICalled' && event.params.type === 'error') ||
        (event.method === 'Log.entryAdded' &&
          (event.params.entry as { level: string }).level === 'error'),
    );
    // Assess
    expect(errors).toEqual([]);
  });

  it('draws one bar for every hop of every batch, from its first task to its record', () => {
    // Prepare: the expected bars, straight from the run records
    const expected = records.results
      .map((result) => ({
        batch: result.batchId,
        hop: String(result.hop),
        startMs: Math.min(
          Date.parse(result.writtenAt),
          ...result.outcomes.map((o) => Date.parse(o.finishedAt) - o.durationMs),
        ),
        endMs: Date.parse(result.writtenAt),
      }))
      .sort((a, b) => (a.batch + a.hop < b.batch + b.hop ? -1 : 1));
    // Act
    const drawn = bars
      .filter((bar) => bar.kind === 'hop')
      .map(({ batch, hop, startMs, endMs }) => ({ batch, hop, startMs, endMs }))
      .sort((a, b) => ((a.batch ?? '') + a.hop < (b.batch ?? '') + b.hop ? -1 : 1));
    // Assess
    expect(records.results.some((result) => result.hop > 0)).toBe(true);
    expect(drawn).toEqual(expected);
  });

  it('places and sizes every bar by its times on the drawn axis', () => {
    // Prepare: the plot spans the SVG minus its label column and right margin (170 + 16 of 1100)
    const scale = svg.width / 1100;
    const plotLeft = svg.left + 170 * scale;
    const plotWidth = (1100 - 170 - 16) * scale;
    const span = svg.endMs - svg.originMs;
    // Act
    const misplaced = bars.filter((bar) => {
      const left = plotLeft + ((bar.startMs - svg.originMs) / span) * plotWidth;
      const width = Math.max(((bar.endMs - bar.startMs) / span) * plotWidth, 2 * scale);
      return Math.abs(bar.left - left) > 1 || Math.abs(bar.width - width) > 1;
    });
    // Assess
    expect(bars.length).toBeGreaterThan(records.results.length);
    expect(misplaced).toEqual([]);
    expect(bars.every((bar) => bar.startMs >= svg.originMs && bar.endMs <= svg.endMs)).toBe(true);
  });

  it('draws the parse of every parsed raw object after the hop that stored it', () => {
    // Prepare
    const parsedKeys = [...records.rawOutcomes]
      .filter(([, outcome]) => outcome.status === 'parsed')
      .map(([key]) => key)
      .sort();
    const hopEnd = new Map(
      bars.filter((bar) => bar.kind === 'hop').map((bar) => [`${bar.batch}-${bar.hop}`, bar.endMs]),
    );
    // Act
    const parses = bars.filter((bar) => bar.kind === 'parse');
    // Assess
    expect(parses.map((bar) => bar.rawKey).sort()).toEqual(parsedKeys);
    for (const bar of parses) {
      if (bar.batch !== undefined) expect(bar.startMs).toBe(hopEnd.get(`${bar.batch}-${bar.hop}`));
      expect(bar.endMs).toBeGreaterThanOrEqual(bar.startMs);
    }
  });
});

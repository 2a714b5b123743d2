import { computeRunStatus, parseScheduleExpression } from '@fanout/shared';
import { describe, expect, it } from 'vitest';
import { runProblems } from '../../src/commands/problems.js';
import { monthlyEstimate, runsPerMonth, runUsage } from '../../src/report/cost-model.js';
import { reportHtml } from '../../src/report/html.js';
import { RUN_ID } from '../records/fixtures.js';
import { handMadeRun, ms } from './records.js';

/** The attributes of every `<tag ...>` in the page, as maps. */
function elements(html: string, tag: string): Map<string, string>[] {
  return [...html.matchAll(new RegExp(`<${tag}\\s([^>]*)>`, 'g'))].map(
    (match) =>
      new Map(
        [...(match[1] ?? '').matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1] ?? '', a[2] ?? '']),
      ),
  );
}

function aReport(records = handMadeRun()) {
  const usage = runUsage(RUN_ID, records, 4096);
  const schedule = parseScheduleExpression('rate(10 minutes)');
  return reportHtml({
    runId: RUN_ID,
    bucket: 'fanout-local',
    records,
    status: computeRunStatus(RUN_ID, records),
    problems: runProblems(RUN_ID, records),
    estimate: monthlyEstimate([usage], runsPerMonth(schedule, new Date(0))),
    schedule: schedule.expression,
    generatedAt: '2026-11-29T09:00:00.000Z',
  });
}

describe('reportHtml', () => {
  it('gives every hop a bar carrying its batch, hop, start and end', () => {
    // Act
    const html = aReport();
    // Assess
    const hops = elements(html, 'rect').filter((rect) => rect.get('data-kind') === 'hop');
    expect(
      hops.map((bar) => [
        bar.get('data-batch'),
        bar.get('data-hop'),
        Number(bar.get('data-start-ms')),
        Number(bar.get('data-end-ms')),
      ]),
    ).toEqual([
      ['b00000', '0', ms(1), ms(4)],
      ['b00000', '1', ms(4.5), ms(6.5)],
      ['b00001', '0', ms(1), ms(2)],
    ]);
  });

  it('places bars in time order along the x axis and gives the manager and parses their own', () => {
    // Act
    const rects = elements(aReport(), 'rect');
    // Assess
    const x = (kind: string, i = 0) =>
      Number(rects.filter((rect) => rect.get('data-kind') === kind)[i]?.get('x'));
    expect(x('manager')).toBeLessThan(x('hop'));
    expect(x('hop', 0)).toBeLessThan(x('hop', 1));
    expect(x('hop', 1)).toBeLessThan(x('parse', 1));
    const parses = rects.filter((rect) => rect.get('data-kind') === 'parse');
    expect(parses.map((bar) => [bar.get('data-hop'), bar.get('data-quarantined')])).toEqual([
      ['0', '0'],
      ['1', '1'],
    ]);
  });

  it('marks the failed and the retried task', () => {
    // Act
    const html = aReport();
    // Assess
    const failed = elements(html, 'path').filter((mark) => mark.get('data-kind') === 'failed');
    const retried = elements(html, 'circle').filter((mark) => mark.get('data-kind') === 'retry');
    expect(failed.map((mark) => [mark.get('data-source'), mark.get('data-hop')])).toEqual([
      ['b', '0'],
    ]);
    expect(retried.map((mark) => [mark.get('data-source'), mark.get('data-attempts')])).toEqual([
      ['c', '2'],
    ]);
  });

  it('lists sources failures first, then quarantined pages, with escaped reasons', () => {
    // Act
    const html = aReport();
    // Assess
    const rows = elements(html, 'tr').filter((row) => row.has('data-source'));
    expect(rows.map((row) => [row.get('data-source'), row.get('class')])).toEqual([
      ['b', 'failed'],
      ['c', 'quarantined'],
      ['a', ''],
      ['d', ''],
    ]);
    expect(html).toContain('HTTP 500 &lt;from upstream&gt;');
    expect(html).not.toContain('<from upstream>');
  });

  it('notes a source whose page was read by the windows-1252 fallback', () => {
    // Prepare
    const records = handMadeRun();
    const rawOutcomes = new Map(records.rawOutcomes);
    const [key, raw] = [...rawOutcomes][0] ?? [];
    if (key === undefined || raw?.status !== 'parsed') throw new Error('fixture changed');
    rawOutcomes.set(key, { ...raw, outcome: { ...raw.outcome, windows1252Pages: ['a-p0000'] } });

    // Act
    const html = aReport({ ...records, rawOutcomes });

    // Assess
    const row = html.split('\n').find((line) => line.includes('data-source="a"')) ?? '';
    expect(row).toContain(
      '<span class="note">decoded as windows-1252: not UTF-8, no charset declared</span>',
    );
    expect(html.match(/class="note"/g)).toHaveLength(1);
  });

  it('shows the totals fanout status counts', () => {
    // Prepare
    const records = handMadeRun();
    const status = computeRunStatus(RUN_ID, records);
    // Act
    const html = aReport();
    // Assess
    const totals = new Map(
      [...html.matchAll(/<div data-total="([^"]+)"><b>(\d+)<\/b>/g)].map((m) => [
        m[1],
        Number(m[2]),
      ]),
    );
    expect(totals.get('sources')).toBe(status.sources);
    expect(totals.get('failed')).toBe(1);
    expect(totals.get('quarantined')).toBe(1);
    expect(totals.get('parsed')).toBe(status.parsed);
    expect(totals.size).toBe(12);
  });

  it('is one file that loads nothing: no scripts, no links, no external references', () => {
    // Act
    const html = aReport();
    // Assess
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\ssrc=|\shref=|url\(|@import/i);
    expect(html).toContain("default-src 'none'");
    // The only URL is the SVG namespace, which is a name, not a request.
    expect([...html.matchAll(/https?:\/\/[^"\s<]+/g)].map((m) => m[0])).toEqual([
      'http://www.w3.org/2000/svg',
    ]);
  });

  it('states the estimated cost of the run and of a month of runs', () => {
    // Act
    const html = aReport();
    // Assess
    const cost = elements(html, 'div').find((div) => div.get('id') === 'cost');
    const perRun = Number(cost?.get('data-usd-run'));
    const month = Number(cost?.get('data-usd-month'));
    expect(perRun).toBeGreaterThan(0);
    expect(month).toBeCloseTo(perRun * 4320, 10);
  });
});

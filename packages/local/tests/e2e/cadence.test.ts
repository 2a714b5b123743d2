import type { RunRecords, SourceInput } from '@fanout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarize, summaryTable } from '../../src/commands/summary.js';
import { type CycleResult, LocalSession } from '../../src/session.js';
import {
  allOutcomes,
  E2E_COLLECTOR_TIMEOUT_SECONDS,
  E2E_RETRY_DELAY_SCALE,
  plannedSourceIds,
  removeHome,
  tempHome,
} from './helpers.js';

/**
 * Per-source cadence through the whole local pipeline: the local cloud fires its
 * rate(10 minutes) schedule at two consecutive times, and each run collects only
 * the sources due at its scheduled time.
 */

const FIRST = new Date('2026-07-01T10:00:00Z');
const SECOND = new Date('2026-07-01T10:10:00Z');

/** Cadence per generated demo source, in manifest order (undefined: every run). */
const CADENCES: Record<string, string | undefined> = {
  always: undefined,
  hourly: '1h',
  'half-hourly': '30m',
  'daily-at-ten': 'cron(0 10 * * ? *)',
  'five-past': 'cron(5 * * * ? *)',
};
const NAMES = Object.keys(CADENCES);

let home: string;
let session: LocalSession;
let first: CycleResult;
let second: CycleResult;
let firstRecords: RunRecords;
let secondRecords: RunRecords;
/** Demo source id by cadence name. */
let idOf: Record<string, string>;

function ids(...names: string[]): string[] {
  return names.map((name) => idOf[name] ?? name).sort();
}

beforeAll(async () => {
  home = await tempHome('cadence');
  session = await LocalSession.start({
    home,
    s3Port: 0,
    lambdaPort: 0,
    functions: { collector: { timeoutSeconds: E2E_COLLECTOR_TIMEOUT_SECONDS } },
    retryDelayScale: E2E_RETRY_DELAY_SCALE,
    demo: { port: 0, count: NAMES.length },
  });
  const generated = session.demo.manifest({ fixed: false }).sources;
  idOf = Object.fromEntries(NAMES.map((name, index) => [name, generated[index]?.id ?? '']));
  const sources: SourceInput[] = generated.map((source, index) => {
    const every = CADENCES[NAMES[index] ?? ''];
    return every === undefined ? source : { ...source, every };
  });
  await session.cloud.putManifest({ version: 1, sources });

  first = await session.cycle({ time: FIRST, maxWaitMs: 90_000 });
  firstRecords = await session.records.records(first.runId);
  second = await session.cycle({ time: SECOND, maxWaitMs: 90_000 });
  secondRecords = await session.records.records(second.runId);
}, 300_000);

afterAll(async () => {
  await session?.stop();
  await removeHome(home);
});

describe('per-source cadence over two scheduled times', () => {
  it('collects at 10:00 the sources due on the hour, half hour and at 10:00, not the :05 one', () => {
    expect(first.runId).toBe('20260701T100000Z');
    expect(plannedSourceIds(firstRecords).sort()).toEqual(
      ids('always', 'hourly', 'half-hourly', 'daily-at-ten'),
    );
    expect(firstRecords.manifest?.notDueSourceIds).toEqual(ids('five-past'));
    const collected = allOutcomes(firstRecords.results).map(({ outcome }) => outcome.sourceId);
    expect(collected.sort()).toEqual(plannedSourceIds(firstRecords).sort());
  });

  it('collects at 10:10 the source without a cadence and the one due at :05', () => {
    expect(second.runId).toBe('20260701T101000Z');
    expect(plannedSourceIds(secondRecords).sort()).toEqual(ids('always', 'five-past'));
    expect([...(secondRecords.manifest?.notDueSourceIds ?? [])].sort()).toEqual(
      ids('hourly', 'half-hourly', 'daily-at-ten'),
    );
    const collected = allOutcomes(secondRecords.results).map(({ outcome }) => outcome.sourceId);
    expect(collected.sort()).toEqual(ids('always', 'five-past'));
  });

  it('counts not-due sources apart in the status: complete, nothing pending or failed', () => {
    expect(first.status).toMatchObject({ complete: true, sources: 5, notDue: 1, pending: 0 });
    expect(second.status).toMatchObject({ complete: true, sources: 5, notDue: 3, pending: 0 });
    for (const { status } of [first, second]) {
      expect(status.failed).toBe(0);
      expect(status.unparsed).toBe(0);
      expect(status.sources).toBe(
        status.collected + status.unchanged + status.notDue + status.failed,
      );
    }
  });

  it('shows the not-due count in the run summary, apart from unchanged', () => {
    // Act
    const summary = summarize(second);

    // Assess
    expect(summary).toMatchObject({ sources: 5, notDue: 3, pending: 0 });
    expect(summaryTable(summary)).toMatch(/^\s+not due\s+3$/m);
    expect(summaryTable(summarize(first))).toMatch(/^\s+not due\s+1$/m);
  });
});

import {
  check,
  followedLinks,
  followRecordSource,
  parsedKeyForRaw,
  parseRawKey,
  QuarantineReportSchema,
  quarantineKeyForEntry,
  quarantineKeyForRaw,
  quarantineReportKeyForEntry,
  quarantineReportKeyForRaw,
  type RunStatus,
} from '@fanout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATIC_SOURCES } from '../../src/demo/index.js';
import { type CycleResult, LocalSession } from '../../src/session.js';
import {
  allOutcomes,
  E2E_COLLECTOR_TIMEOUT_SECONDS,
  E2E_RETRY_DELAY_SCALE,
  E2E_SLOW_DELAY_MS,
  exists,
  getBytes,
  plannedSourceIds,
  rawKeysOfRun,
  readParsed,
  removeHome,
  repeatedSources,
  sourcesInRawObjects,
  tempHome,
} from './helpers.js';

const GENERATED = 10;
const FIRST = new Date('2026-07-01T10:00:00Z');
const SECOND = new Date('2026-07-01T10:10:00Z');

let home: string;
let session: LocalSession;
let first: CycleResult;

function expectAccountedFor(status: RunStatus): void {
  expect(status.pending).toBe(0);
  expect(status.unparsed).toBe(0);
  // Every task has an outcome: the sources', and the detail pages' they linked.
  expect(status.sources + status.detailTasks).toBe(
    status.collected + status.unchanged + status.failed,
  );
  expect(status.complete).toBe(true);
}

beforeAll(async () => {
  home = await tempHome('cycle');
  session = await LocalSession.start({
    home,
    s3Port: 0,
    lambdaPort: 0,
    functions: { collector: { timeoutSeconds: E2E_COLLECTOR_TIMEOUT_SECONDS } },
    retryDelayScale: E2E_RETRY_DELAY_SCALE,
    demo: { port: 0, count: GENERATED, slowDelayMs: E2E_SLOW_DELAY_MS },
  });
  first = await session.cycle({ time: FIRST, maxWaitMs: 90_000 });
}, 300_000);

afterAll(async () => {
  await session?.stop();
  await removeHome(home);
});

describe('one cycle over the demo sources', () => {
  it('gives every source exactly one outcome', async () => {
    const records = await session.records.records(first.runId);
    const planned = plannedSourceIds(records);

    expect(first.runId).toBe('20260701T100000Z');
    expect(first.status.sources).toBe(STATIC_SOURCES.length + GENERATED);
    expect(new Set(planned).size).toBe(planned.length);
    expectAccountedFor(first.status);
    expect(first.deadLettered).toBe(0);
    expect(repeatedSources(records.results)).toEqual([]);
    const withOutcome = allOutcomes(records.results).map(({ outcome }) => outcome.sourceId);
    // The planned sources, and the demo shop's detail pages, each once.
    const details = [...followedLinks(records.results).keys()];
    expect(details).toHaveLength(first.status.detailTasks);
    expect(details.length).toBeGreaterThan(0);
    expect(withOutcome.sort()).toEqual([...planned, ...details].sort());
  });

  it('parses every collected raw object or quarantines it with a report and a copy', async () => {
    const records = await session.records.records(first.runId);
    const { s3, bucket } = session.cloud;
    // A detail page's records carry its source's `<id>.detail`.
    const links = followedLinks(records.results);
    const recordSource = (taskId: string) => {
      const link = links.get(taskId);
      return link === undefined ? taskId : followRecordSource(link.sourceId);
    };
    const pages = allOutcomes(records.results).flatMap(({ outcome }) =>
      outcome.status === 'ok'
        ? outcome.rawKeys.map((key) => ({ key, sourceId: recordSource(outcome.sourceId) }))
        : [],
    );
    const rawKeys = [...new Set(pages.map((page) => page.key))];
    expect(pages.length).toBe(first.status.pages);
    expect(rawKeys.length).toBe(first.status.rawObjects);
    expect(pages.length).toBeGreaterThan(first.status.sources);

    for (const key of rawKeys) {
      const raw = records.rawOutcomes.get(key);
      expect(raw, key).toBeDefined();
      if (raw?.status === 'parsed') {
        expect(raw.outcome.rawKey).toBe(key);
        expect(raw.outcome.pages).toBe(pages.filter((page) => page.key === key).length);
        const envelopes = await readParsed(s3, bucket, parsedKeyForRaw(key));
        expect(envelopes.length, key).toBe(raw.outcome.records);
        const sources = new Set(pages.filter((page) => page.key === key).map((p) => p.sourceId));
        for (const envelope of envelopes) {
          expect(envelope.run).toBe(first.runId);
          expect(sources.has(envelope.source), envelope.source).toBe(true);
        }
      } else {
        expect(await exists(s3, bucket, quarantineKeyForRaw(key)), key).toBe(true);
        expect(await exists(s3, bucket, quarantineReportKeyForRaw(key)), key).toBe(true);
        expect(await exists(s3, bucket, parsedKeyForRaw(key)), key).toBe(false);
      }
    }
  });

  it('quarantines the malformed source with the reason', async () => {
    const records = await session.records.records(first.runId);
    const malformed = allOutcomes(records.results).find(
      ({ outcome }) => outcome.sourceId === 'demo-malformed',
    )?.outcome;
    if (malformed?.status !== 'ok') throw new Error('the malformed source was not collected');
    const [rawKey] = malformed.rawKeys;
    if (rawKey === undefined) throw new Error('no raw key');
    const raw = records.rawOutcomes.get(rawKey);
    // The only quarantined page of the run is the malformed source's.
    expect(first.status.quarantined).toBe(1);
    const { s3, bucket } = session.cloud;
    const single = parseRawKey(rawKey) !== undefined;
    const reportKey = single
      ? quarantineReportKeyForRaw(rawKey)
      : quarantineReportKeyForEntry(rawKey, 'demo-malformed', 0);
    if (single) expect(raw?.status).toBe('quarantined');
    else if (raw?.status === 'parsed') {
      expect(raw.outcome.quarantined).toBe(1);
      expect(raw.outcome.quarantinedPages).toEqual(['demo-malformed-p0000']);
    } else throw new Error(`pack ${rawKey} has no parse outcome with the quarantined entry`);

    const report = check(
      QuarantineReportSchema,
      JSON.parse((await getBytes(s3, bucket, reportKey)).toString('utf8')),
    );
    if (!report.ok) throw new Error(report.issues.join('; '));
    expect(report.value.rawKey).toBe(rawKey);
    expect(report.value.errorName).toBe('MalformedInputError');
    expect(report.value.reason).toMatch(/malformed json/);
    expect(report.value.location?.byteOffset).toBeGreaterThan(0);
    if (single) {
      expect(report.value.metadata['source-id']).toBe('demo-malformed');
      // The copy is the raw object, byte for byte.
      expect(await getBytes(s3, bucket, quarantineKeyForRaw(rawKey))).toEqual(
        await getBytes(s3, bucket, rawKey),
      );
    } else {
      expect(report.value).toMatchObject({ sourceId: 'demo-malformed', page: 0 });
      const copy = await getBytes(s3, bucket, quarantineKeyForEntry(rawKey, 'demo-malformed', 0));
      expect(JSON.parse(copy.toString('utf8'))).toMatchObject({ sourceId: 'demo-malformed' });
    }
  });

  it('finishes the slow source in a continuation hop', async () => {
    const records = await session.records.records(first.runId);
    const slow = allOutcomes(records.results).find(
      ({ outcome }) => outcome.sourceId === 'demo-slow',
    );
    expect(slow?.outcome.status).toBe('ok');
    expect(slow?.result.hop).toBeGreaterThanOrEqual(1);
    const handedOver = records.results.filter((result) => result.continued.includes('demo-slow'));
    expect(handedOver.length).toBeGreaterThanOrEqual(1);
  });

  it('collects the flaky source after retries', async () => {
    const records = await session.records.records(first.runId);
    const flaky = allOutcomes(records.results).find(
      ({ outcome }) => outcome.sourceId === 'demo-flaky',
    );
    expect(flaky?.outcome.status).toBe('ok');
    expect(flaky?.outcome.attempts).toBeGreaterThan(1);
  });
});

describe('the next cycles', () => {
  let second: CycleResult;
  let changed: string[];

  beforeAll(async () => {
    changed = session.demo.nextCycle().changed;
    second = await session.cycle({ time: SECOND, maxWaitMs: 90_000 });
  }, 300_000);

  it('writes raw objects only for sources whose content changed', async () => {
    expect(second.runId).not.toBe(first.runId);
    expectAccountedFor(second.status);
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.length).toBeLessThan(second.status.sources);

    const written = new Set(
      await sourcesInRawObjects(
        session.cloud.s3,
        session.cloud.bucket,
        await rawKeysOfRun(session.records, second.runId),
      ),
    );
    expect([...written].sort()).toEqual([...changed].sort());
    expect(second.status.collected).toBe(changed.length);
    // The detail pages were asked conditionally and found unchanged too.
    expect(second.status.unchanged).toBe(
      second.status.sources + second.status.detailTasks - changed.length,
    );
  });

  it('does not run a cycle twice when its scheduled event is delivered again', async () => {
    const before = await session.records.records(second.runId);
    const rawBefore = await rawKeysOfRun(session.records, second.runId);
    const runsBefore = await session.records.runIds();

    const event = await session.cloud.fireSchedule(SECOND);
    await session.cloud.settled();

    expect(event.time).toBe('2026-07-01T10:10:00Z');
    expect(await session.records.runIds()).toEqual(runsBefore);
    const after = await session.records.records(second.runId);
    expect(after.manifest?.createdAt).toBe(before.manifest?.createdAt);
    expect(after.results.map((r) => `${r.batchId}-h${r.hop}@${r.writtenAt}`).sort()).toEqual(
      before.results.map((r) => `${r.batchId}-h${r.hop}@${r.writtenAt}`).sort(),
    );
    expect(await rawKeysOfRun(session.records, second.runId)).toEqual(rawBefore);
    expect(session.cloud.lambda.stats()[session.cloud.functionName('manager')]?.invocations).toBe(
      3,
    );
  });
});

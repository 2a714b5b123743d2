import type { Server } from 'node:http';
import {
  check,
  finalOutcomes,
  QuarantineReportSchema,
  type RunRecords,
  WINDOWS_1252_FALLBACK,
} from '@fanout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Problem } from '../../src/commands/problems.js';
import { sourceRows } from '../../src/report/sources.js';
import type { CycleResult, LocalSession } from '../../src/session.js';
import { BAD_FIXTURES, CLEAN_FIXTURES, type CorpusFixture } from '../fixtures/corpus.js';
import {
  cycleAndRead,
  type Envelope,
  getBytes,
  startE2eSession,
  startUpstream,
  stopE2e,
  tempHome,
} from './helpers.js';

const TIME = new Date('2026-07-03T06:00:00Z');
const FIXTURES: readonly CorpusFixture[] = [...CLEAN_FIXTURES, ...BAD_FIXTURES];
/** What decoding with the wrong charset leaves: U+FFFD, or UTF-8 read as Latin-1 / Windows-1252. */
const MOJIBAKE = /\uFFFD|Ã[\u0080-\u00BF]|â€|ï»¿/;

let home: string;
let upstream: Server;
let session: LocalSession;
let result: CycleResult;
let records: RunRecords;
let problems: Problem[];
let envelopes: Envelope[];

beforeAll(async () => {
  let origin: string;
  ({ server: upstream, origin } = await startUpstream((req, res) => {
    const fixture = FIXTURES.find((f) => `/${f.id}` === req.url);
    if (!fixture) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { ...fixture.headers, 'content-length': String(fixture.body.length) });
    res.end(fixture.body);
  }));
  home = await tempHome('corpus');
  session = await startE2eSession(home, {
    manifest: {
      version: 1,
      sources: FIXTURES.map((fixture) => ({
        id: fixture.id,
        url: `${origin}/${fixture.id}`,
        format: fixture.format,
        options: fixture.options ?? {},
        allowPrivateNetwork: true,
      })),
    },
  });
  ({ result, records, problems, envelopes } = await cycleAndRead(session, TIME));
}, 300_000);

afterAll(() => stopE2e(session, upstream, home));

describe('real-world input through the whole pipeline', () => {
  it('collects every fixture and settles the run', () => {
    // Assess
    expect(result.status.complete).toBe(true);
    expect(result.status.sources).toBe(FIXTURES.length);
    expect(result.deadLettered).toBe(0);
    const collected = [...finalOutcomes(records.results).values()]
      .filter((outcome) => outcome.status === 'ok')
      .map((outcome) => outcome.sourceId);
    // Quarantined pages were collected; the parser is what stops them.
    const expected = [
      ...CLEAN_FIXTURES,
      ...BAD_FIXTURES.filter((fixture) => fixture.outcome.kind === 'quarantined'),
    ].map((fixture) => fixture.id);
    expect(collected.sort()).toEqual(expected.sort());
  });

  it.each(CLEAN_FIXTURES.map((fixture) => [fixture.id, fixture] as const))(
    'stores exactly the records of %s, decoded',
    (_id, fixture) => {
      // Act
      const mine = envelopes.filter((envelope) => envelope.source === fixture.id);

      // Assess
      expect(mine.map((envelope) => envelope.record)).toEqual(fixture.records);
      for (const envelope of mine) {
        expect(envelope).toMatchObject({ run: result.runId, page: 0 });
      }
      expect(problems.filter((problem) => problem.sourceId === fixture.id)).toEqual([]);
    },
  );

  it('quarantines no raw object whole, only the undecodable pages', () => {
    // Assess
    const whole = [...records.rawOutcomes].filter(([, raw]) => raw.status === 'quarantined');
    expect(whole).toEqual([]);
    const quarantined = problems.filter((problem) => problem.kind === 'quarantined');
    const expected = BAD_FIXTURES.filter((fixture) => fixture.outcome.kind === 'quarantined');
    expect(quarantined.map((problem) => problem.sourceId).sort()).toEqual(
      expected.map((fixture) => fixture.id).sort(),
    );
    expect(result.status.quarantined).toBe(expected.length);
  });

  it.each(BAD_FIXTURES.map((fixture) => [fixture.id, fixture] as const))(
    'stops %s with a reason that names the encoding and where',
    async (_id, fixture) => {
      // Act
      const problem = problems.find((p) => p.sourceId === fixture.id);

      // Assess
      const { outcome } = fixture;
      expect(problem?.kind).toBe(outcome.kind);
      if (outcome.kind === 'failed') {
        expect(problem?.reason).toBe(outcome.reason);
        return;
      }
      if (problem?.where === undefined) throw new Error(`no report for ${fixture.id}`);
      const bytes = await getBytes(session.cloud.s3, session.cloud.bucket, problem.where);
      const report = check(QuarantineReportSchema, JSON.parse(bytes.toString('utf8')));
      if (!report.ok) throw new Error(report.issues.join('; '));
      // A pack entry's reason starts with its pack line, which depends on the batch.
      const packLine = Number(report.value.metadata['pack-line']);
      expect(problem.reason).toBe(
        `pack line ${packLine}, source ${fixture.id} page 0: ${outcome.reason}`,
      );
      expect(report.value).toMatchObject({ errorName: outcome.errorName, reason: problem.reason });
      // With no place in the body, the location is the entry's line in the pack.
      expect(report.value.location).toEqual(outcome.location ?? { line: packLine });
    },
  );

  it('records the windows-1252 fallback in the parse outcome and the report, for that source only', () => {
    // Act
    const decoded = [...records.rawOutcomes.values()].flatMap((raw) =>
      raw.status === 'parsed' ? (raw.outcome.windows1252Pages ?? []) : [],
    );
    const notes = sourceRows(records, problems).filter((row) => row.note !== undefined);

    // Assess
    const expected = CLEAN_FIXTURES.filter((fixture) => fixture.windows1252Fallback);
    expect(expected.length).toBeGreaterThan(0);
    expect(decoded.sort()).toEqual(expected.map((fixture) => `${fixture.id}-p0000`).sort());
    expect(notes.map((row) => [row.sourceId, row.note])).toEqual(
      expected.map((fixture) => [fixture.id, WINDOWS_1252_FALLBACK]),
    );
    expect(WINDOWS_1252_FALLBACK).toBe('decoded as windows-1252: not UTF-8, no charset declared');
  });

  it('stores nothing of the bad input, and no mojibake anywhere', () => {
    // Assess
    const bad = new Set(BAD_FIXTURES.map((fixture) => fixture.id));
    expect(envelopes.filter((envelope) => bad.has(envelope.source))).toEqual([]);
    const expectedRecords = CLEAN_FIXTURES.reduce((sum, f) => sum + f.records.length, 0);
    expect(envelopes).toHaveLength(expectedRecords);
    for (const envelope of envelopes) {
      expect(JSON.stringify(envelope.record), envelope.source).not.toMatch(MOJIBAKE);
    }
  });
});

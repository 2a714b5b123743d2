import type { ParsedObjectOutcome, RawObjectOutcome, RunRecords } from '@fanout/shared';
import {
  aManifest,
  aResult,
  failed,
  ok,
  packKey,
  RUN_ID,
  SCHEDULED_AT,
  unchanged,
} from '../records/fixtures.js';

/** `08:10:0s.mmm` on the fixtures' run date, as an ISO time. */
export function at(seconds: number): string {
  return new Date(Date.parse(SCHEDULED_AT) + seconds * 1000).toISOString();
}

export const ms = (seconds: number) => Date.parse(at(seconds));

function parsed(
  rawKey: string,
  parsedAt: string,
  counts: Partial<ParsedObjectOutcome> = {},
): RawObjectOutcome {
  return {
    status: 'parsed',
    outcome: {
      runId: RUN_ID,
      rawKey,
      pages: 1,
      parsed: 1,
      quarantined: 0,
      quarantinedPages: [],
      records: 2,
      bytesIn: 10,
      bytesOut: 10,
      parsedAt,
      ...counts,
    },
  };
}

/**
 * A hand-made run, times in seconds after the schedule:
 *   manager writes the plan at 0; batch b00000 = [a, b, c], b00001 = [d]
 *   b00000 hop 0: a ok (1.0-2.0, pack h0), b failed after 3 attempts (ends 3.0), c continued; written 4.0
 *   b00000 hop 1: c ok after 2 attempts (4.5-6.0, pack h1); written 6.5
 *   b00001 hop 0: d unchanged (1.0-1.5); written 2.0, no pack (a results record)
 *   pack h0 parsed at 5.0; pack h1 parsed at 7.0 with c's page quarantined
 */
export function handMadeRun(): RunRecords {
  const h0 = packKey('b00000', 0);
  const h1 = packKey('b00000', 1);
  const a = { ...ok('a', [h0], at(2)), durationMs: 1000, bytes: 2048 };
  const b = { ...failed('b', 'HTTP 500 <from upstream>', at(3)), durationMs: 30 };
  const c = { ...ok('c', [h1], at(6)), durationMs: 1500, attempts: 2 };
  const d = { ...unchanged('d'), finishedAt: at(1.5), durationMs: 500 };
  return {
    manifest: aManifest([['a', 'b', 'c'], ['d']], { createdAt: at(0), updatedAt: at(0) }),
    results: [
      aResult('b00000', [c], { hop: 1, writtenAt: at(6.5) }),
      aResult('b00000', [a, b], { continued: ['c'], writtenAt: at(4) }),
      aResult('b00001', [d], { writtenAt: at(2) }),
    ],
    failures: [],
    rawOutcomes: new Map([
      [h0, parsed(h0, at(5))],
      [h1, parsed(h1, at(7), { parsed: 0, quarantined: 1, quarantinedPages: ['c-p0000'] })],
    ]),
  };
}

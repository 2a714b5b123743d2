import { describe, expect, it } from 'vitest';
import { runTimeline } from '../../src/report/timeline.js';
import { packKey } from '../records/fixtures.js';
import { handMadeRun, ms } from './records.js';

describe('runTimeline', () => {
  it('puts each hop on its own lane from its first task start to its record', () => {
    // Prepare
    const records = handMadeRun();
    // Act
    const timeline = runTimeline(records);
    // Assess
    expect(
      timeline.hops.map((hop) => [hop.batchId, hop.hop, hop.startMs, hop.endMs, hop.packed]),
    ).toEqual([
      ['b00000', 0, ms(1), ms(4), true],
      ['b00000', 1, ms(4.5), ms(6.5), true],
      ['b00001', 0, ms(1), ms(2), false],
    ]);
    expect(timeline.hops[0]?.continued).toBe(1);
  });

  it('marks failed and retried tasks where they finished', () => {
    // Act
    const timeline = runTimeline(handMadeRun());
    // Assess
    const [h0, h1] = timeline.hops;
    expect(h0?.failed).toEqual([
      { sourceId: 'b', atMs: ms(3), attempts: 3, reason: 'HTTP 500 <from upstream>' },
    ]);
    expect(h0?.retried).toEqual([]);
    expect(h1?.retried).toEqual([{ sourceId: 'c', atMs: ms(6), attempts: 2 }]);
  });

  it('draws the manager from the plan to the first collector task, and parses after their hop', () => {
    // Act
    const timeline = runTimeline(handMadeRun());
    // Assess
    expect(timeline.manager).toEqual({ startMs: ms(0), endMs: ms(1) });
    expect(
      timeline.parses.map((parse) => [parse.rawKey, parse.startMs, parse.endMs, parse.quarantined]),
    ).toEqual([
      [packKey('b00000', 0), ms(4), ms(5), 0],
      [packKey('b00000', 1), ms(6.5), ms(7), 1],
    ]);
    expect([timeline.originMs, timeline.endMs]).toEqual([ms(0), ms(7)]);
  });

  it('draws a run with no records yet as an empty timeline', () => {
    // Prepare
    const records = { manifest: undefined, results: [], failures: [], rawOutcomes: new Map() };
    // Act
    const timeline = runTimeline(records);
    // Assess
    expect(timeline).toEqual({
      originMs: 0,
      endMs: 0,
      hops: [],
      parses: [],
      batchFailures: [],
    });
  });
});

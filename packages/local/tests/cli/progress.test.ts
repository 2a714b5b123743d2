import { PassThrough } from 'node:stream';
import type { RunStatus } from '@fanout/shared';
import { describe, expect, it } from 'vitest';
import { progressFor } from '../../src/progress.js';

function aStatus(overrides: Partial<RunStatus> = {}): RunStatus {
  return {
    runId: 'r1',
    runState: 'planned',
    complete: false,
    sources: 4,
    detailTasks: 0,
    collected: 3,
    unchanged: 0,
    notDue: 0,
    failed: 0,
    pending: 1,
    rawObjects: 1,
    pages: 5,
    parsed: 2,
    quarantined: 1,
    unparsed: 2,
    batches: 1,
    failedBatches: 0,
    pendingSourceIds: ['d'],
    unparsedKeys: ['raw/packs/dt=2026-11-29/r1-b00000-h0.pack.ndjson.gz'],
    ...overrides,
  };
}

function capture(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  Object.assign(stream, { isTTY, columns: 200 });
  return {
    stream: stream as unknown as NodeJS.WriteStream,
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

describe('progress', () => {
  it('counts pages, not raw objects, as parsed, quarantined and waiting', () => {
    // Prepare
    const out = capture(false);
    const progress = progressFor(out.stream, true);

    // Act
    progress.update(aStatus(), { deadLettered: 0, elapsedMs: 1500 });

    // Assess
    expect(out.text()).toBe(
      '1.5s batches 1 | sources 3 collected, 0 unchanged, 0 failed, 1 pending | pages 2 parsed, 1 quarantined, 2 waiting\n',
    );
  });

  it('counts sources not due apart from unchanged ones, when there are any', () => {
    // Prepare
    const out = capture(false);
    const progress = progressFor(out.stream, true);

    // Act
    progress.update(aStatus({ sources: 6, notDue: 2 }), { deadLettered: 0, elapsedMs: 1500 });

    // Assess
    expect(out.text()).toBe(
      '1.5s batches 1 | sources 3 collected, 0 unchanged, 2 not due, 0 failed, 1 pending | pages 2 parsed, 1 quarantined, 2 waiting\n',
    );
  });

  it('names the detail pages found, whose outcomes the counts include', () => {
    // Prepare
    const out = capture(false);
    const progress = progressFor(out.stream, true);

    // Act
    progress.update(aStatus({ detailTasks: 12 }), { deadLettered: 0, elapsedMs: 1500 });

    // Assess
    expect(out.text()).toBe(
      '1.5s batches 1 | sources and 12 detail pages: 3 collected, 0 unchanged, 0 failed, 1 pending | pages 2 parsed, 1 quarantined, 2 waiting\n',
    );
  });

  it('fills the bar by tasks with an outcome and pages with a parse outcome', () => {
    // Prepare: 3 of 4 tasks and 3 of 5 pages done: 6 of 9.
    const out = capture(true);
    const progress = progressFor(out.stream, true);

    // Act
    progress.update(aStatus(), { deadLettered: 0, elapsedMs: 0 });

    // Assess
    expect(out.text()).toContain(`[${'#'.repeat(16)}${'-'.repeat(8)}]`);
  });
});

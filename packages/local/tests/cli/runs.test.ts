import { startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  aManifest,
  aResult,
  failed,
  ok,
  packKey,
  putManifest,
  putPack,
  putParsed,
} from '../records/fixtures.js';
import { fanout } from './run-cli.js';

/** A run of one pack with these outcomes, parsed unless `parsed` is false. */
async function aRun(
  s3: TestS3,
  runId: string,
  scheduledAt: string,
  outcomes: { ok: string[]; failed?: string[] },
  parsed = true,
): Promise<void> {
  const key = packKey('b00000', 0, runId);
  const ids = [...outcomes.ok, ...(outcomes.failed ?? [])];
  await putManifest(s3, aManifest([ids], { runId, scheduledAt, createdAt: scheduledAt }));
  await putPack(
    s3,
    aResult(
      'b00000',
      [
        ...outcomes.ok.map((id) => ok(id, [key])),
        ...(outcomes.failed ?? []).map((id) => failed(id)),
      ],
      { runId },
    ),
  );
  if (parsed)
    await putParsed(s3, key, { runId, pages: outcomes.ok.length, parsed: outcomes.ok.length });
}

describe('fanout runs', () => {
  let s3: TestS3;
  let where: string[];

  beforeAll(async () => {
    s3 = await startTestS3('fanout-runs');
    where = ['--endpoint', s3.endpoint, '--bucket', s3.bucket];
    await aRun(s3, '20261129T080000Z', '2026-11-29T08:00:00.000Z', { ok: ['a', 'b'] });
    await aRun(s3, '20261129T081000Z', '2026-11-29T08:10:00.000Z', { ok: ['a'], failed: ['b'] });
    await aRun(s3, '20261129T082000Z', '2026-11-29T08:20:00.000Z', { ok: ['a', 'b'] }, false);
    // A manual run between them: placed by its time, not its id.
    await aRun(s3, 'manual-1', '2026-11-29T08:05:00.000Z', { ok: ['a'] });
    await putManifest(
      s3,
      aManifest([], {
        runId: '20261129T083000Z',
        scheduledAt: '2026-11-29T08:30:00.000Z',
        createdAt: '2026-11-29T08:30:00.000Z',
        status: 'failed',
        reason: 'manifest is not valid JSON',
      }),
    );
  });

  afterAll(async () => {
    await s3?.stop();
  });

  it('lists the runs newest first with their state and counts, exit 0', async () => {
    // Act
    const result = await fanout('runs', ...where);

    // Assess
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(
      `Runs in bucket ${s3.bucket}, newest first (the latest 20 at most: --limit N)`,
    );
    expect(lines[1]).toMatch(
      /^run +scheduled +state +sources +collected +unchanged +failed +quarantined +pending$/,
    );
    const rows = lines.slice(2, -1).map((line) => line.split(/ +/));
    expect(rows.map((row) => [row[0], row[2]])).toEqual([
      ['20261129T083000Z', 'failed'],
      ['20261129T082000Z', 'incomplete'],
      ['20261129T081000Z', 'complete'],
      ['manual-1', 'complete'],
      ['20261129T080000Z', 'complete'],
    ]);
    // sources, collected, unchanged, failed, quarantined, pending of the run with a failure.
    expect(rows[2]?.slice(3)).toEqual(['2', '1', '0', '1', '0', '0']);
    expect(lines.at(-1)).toBe('One run in full: fanout status <run>, fanout report <run>');
  });

  it('prints one JSON object with --json, and as many runs as --limit says', async () => {
    // Act
    const result = await fanout('runs', '--json', '--limit', '2', ...where);

    // Assess
    expect(result.code).toBe(0);
    const listed = JSON.parse(result.stdout) as { bucket: string; runs: { runId: string }[] };
    expect(listed.bucket).toBe(s3.bucket);
    expect(listed.runs.map((run) => run.runId)).toEqual(['20261129T083000Z', '20261129T082000Z']);
    expect(listed.runs[1]).toMatchObject({ state: 'incomplete', sources: 2, pending: 0 });
  });

  it('says so, exit 0, for a bucket with no runs; a bad --limit is a usage error', async () => {
    // Prepare
    const empty = await startTestS3('fanout-no-runs');
    try {
      // Act
      const result = await fanout('runs', '--endpoint', empty.endpoint, '--bucket', empty.bucket);
      const bad = await fanout('runs', '--limit', '0', ...where);

      // Assess
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(
        `No runs in bucket ${empty.bucket} yet (run a cycle: npx -y pnpm@10.34.9 fanout run)\n`,
      );
      expect(bad.code).toBe(2);
      expect(bad.stderr).toBe('fanout: --limit must be at least 1\n');
    } finally {
      await empty.stop();
    }
  });
});

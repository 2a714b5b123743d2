import { PassThrough } from 'node:stream';
import { startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { openBucket } from '../../src/commands/bucket.js';
import type { Io } from '../../src/commands/run.js';
import { removeHome, tempHome } from '../e2e/helpers.js';
import {
  aManifest,
  aResult,
  failed,
  ok,
  packKey,
  putManifest,
  putPack,
  putParsed,
  putQuarantinedEntry,
  RUN_ID,
} from '../records/fixtures.js';

interface Captured {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function fanout(...argv: string[]): Promise<Captured> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await main(argv, { stdout, stderr } as unknown as Io);
  return {
    code,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  };
}

/** A run of `ids` in one pack, all collected and parsed, except what the caller changes. */
async function aRun(
  s3: Pick<TestS3, 'putJson' | 'putText'>,
  runId: string,
  ids: string[],
  options: { failing?: string[]; unparsed?: boolean; quarantine?: string } = {},
): Promise<string> {
  const key = packKey('b00000', 0, runId);
  const outcomes = ids.map((id) =>
    options.failing?.includes(id) ? failed(id, `HTTP 500 from ${id}`) : ok(id, [key]),
  );
  await putManifest(s3 as TestS3, aManifest([ids], { runId }));
  await putPack(s3 as TestS3, aResult('b00000', outcomes, { runId }));
  const pages = outcomes.filter((o) => o.status === 'ok').length;
  if (!options.unparsed) {
    const bad = options.quarantine;
    await putParsed(s3 as TestS3, key, {
      runId,
      pages,
      parsed: bad ? pages - 1 : pages,
      quarantined: bad ? 1 : 0,
      quarantinedPages: bad ? [`${bad}-p0000`] : [],
    });
    if (bad) await putQuarantinedEntry(s3 as TestS3, key, bad, 0, 'malformed json at byte 9');
  }
  return key;
}

describe('fanout status: exit codes and problems, from a bucket at an endpoint', () => {
  let s3: TestS3;
  let where: string[];

  beforeAll(async () => {
    s3 = await startTestS3();
    where = ['--endpoint', s3.endpoint, '--bucket', s3.bucket];
  });

  afterAll(async () => {
    await s3?.stop();
  });

  it('exits 0 for a complete, clean run and lists no problems', async () => {
    // Prepare
    await aRun(s3, 'clean-run', ['a', 'b']);

    // Act
    const result = await fanout('status', 'clean-run', ...where);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Run clean-run (planned) complete');
    expect(result.stdout).toMatch(/pages\s+2\n/);
    expect(result.stdout).not.toContain('Failed and quarantined');
  });

  it('exits 1 for a complete run with a quarantined page, naming it with its reason', async () => {
    // Prepare
    const pack = await aRun(s3, 'quarantine-run', ['a', 'b', 'c'], { quarantine: 'b' });

    // Act
    const result = await fanout('status', 'quarantine-run', ...where);

    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('Failed and quarantined (1):');
    expect(result.stdout).toContain('quarantined b: malformed json at byte 9');
    expect(result.stdout).toContain(
      `quarantine/${pack.slice('raw/'.length)}/b-p0000.entry.json.error.json`,
    );
  });

  it('lists the first ten failures and says where the rest are; --json carries them all', async () => {
    // Prepare
    const ids = Array.from({ length: 13 }, (_, i) => `s${String(i).padStart(2, '0')}`);
    await aRun(s3, 'failing-run', ids, { failing: ids.slice(0, 12) });

    // Act
    const result = await fanout('status', 'failing-run', ...where);
    const json = await fanout('status', 'failing-run', '--json', ...where);

    // Assess
    expect(result.code).toBe(1);
    const listed = result.stdout.split('\n').filter((line) => /^ {2}failed {6}s\d\d: /.test(line));
    expect(listed).toHaveLength(10);
    expect(listed[0]).toBe('  failed      s00: HTTP 500 from s00');
    expect(result.stdout).toContain(
      '... and 2 more: `fanout status failing-run --json` lists them all',
    );
    const status = JSON.parse(json.stdout) as {
      failed: number;
      collected: number;
      problems: unknown[];
    };
    expect(json.code).toBe(1);
    expect(status).toMatchObject({ failed: 12, collected: 1 });
    expect(status.problems).toHaveLength(12);
  });

  it('exits 3 while a page has no parse outcome', async () => {
    // Prepare
    await aRun(s3, 'waiting-run', ['a'], { unparsed: true });

    // Act
    const result = await fanout('status', 'waiting-run', ...where);

    // Assess
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('Run waiting-run (planned) incomplete');
  });

  it('exits 4 for a run that failed', async () => {
    // Prepare
    await putManifest(
      s3,
      aManifest([], {
        runId: 'failed-run',
        status: 'failed',
        reason: 'manifest is not valid JSON',
      }),
    );

    // Act
    const result = await fanout('status', 'failed-run', ...where);

    // Assess
    expect(result.code).toBe(4);
    expect(result.stdout).toContain('Run failed-run (failed)');
  });

  it('without a run id, reads the latest run by time, not by id text', async () => {
    // Prepare: a manual run whose id sorts after the scheduled one's, from before it.
    const own = await startTestS3('fanout-latest');
    try {
      await putManifest(
        own,
        aManifest([['a']], { runId: 'manual-1', scheduledAt: '2026-11-01T00:00:00.000Z' }),
      );
      await aRun(own, RUN_ID, ['a']);

      // Act
      const result = await fanout('status', '--endpoint', own.endpoint, '--bucket', own.bucket);

      // Assess
      expect(result.stdout).toContain(`Run ${RUN_ID} (planned) complete`);
      expect(result.code).toBe(0);
    } finally {
      await own.stop();
    }
  });
});

describe('fanout replay against the local cloud', () => {
  const saved = process.env.FANOUT_HOME;
  let home: string;
  const ports = ['--s3-port', '0', '--lambda-port', '0', '--demo-port', '0'];

  beforeAll(async () => {
    home = await tempHome('replay-cli');
    process.env.FANOUT_HOME = home;
    // Records in the local cloud's data folder: one run complete, one with a task never heard of.
    const bucket = await openBucket({}, home);
    const put = {
      putJson: async (key: string, value: unknown) => {
        const { PutObjectCommand } = await import('@aws-sdk/client-s3');
        await bucket.s3.send(
          new PutObjectCommand({ Bucket: bucket.bucket, Key: key, Body: JSON.stringify(value) }),
        );
      },
      putText: async (
        key: string,
        body: string | Uint8Array,
        metadata?: Record<string, string>,
      ) => {
        const { PutObjectCommand } = await import('@aws-sdk/client-s3');
        await bucket.s3.send(
          new PutObjectCommand({
            Bucket: bucket.bucket,
            Key: key,
            Body: body,
            ...(metadata ? { Metadata: metadata } : {}),
          }),
        );
      },
    };
    try {
      await aRun(put, 'complete-run', ['a']);
      await putManifest(
        put as unknown as TestS3,
        aManifest([['a', 'lost']], { runId: 'lost-run' }),
      );
      await aRun(put, 'lost-run', ['a']);
      await putManifest(
        put as unknown as TestS3,
        aManifest([['a', 'lost']], { runId: 'lost-run' }),
      );
    } finally {
      await bucket.close();
    }
  });

  afterAll(async () => {
    if (saved === undefined) delete process.env.FANOUT_HOME;
    else process.env.FANOUT_HOME = saved;
    await removeHome(home);
  });

  it('exits 3 when the run is still incomplete after it waited', async () => {
    // Act
    const result = await fanout('replay', 'lost-run', ...ports);

    // Assess
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('Run lost-run is still incomplete');
    expect(result.stdout).toContain('1 pending');
  });

  it('exits 0 for a complete run, and sends nothing twice', async () => {
    // Act
    const first = await fanout('replay', 'complete-run', '--json', ...ports);
    const second = await fanout('replay', 'complete-run', '--json', ...ports);

    // Assess
    for (const result of [first, second]) {
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({
        complete: true,
        deadLettersRedelivered: 0,
        batchesRedelivered: 0,
        tasksRetried: 0,
        objectsReparsed: 0,
      });
    }
  });
});

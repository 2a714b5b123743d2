import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import type { Io } from '../../src/commands/run.js';
import { removeHome, startE2eSession, tempHome } from '../e2e/helpers.js';

async function fanout(
  ...argv: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
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

const TIME = new Date('2026-11-29T08:20:00Z');
let home: string | undefined;
let runId = '';
let measured: { putTier: number; collector: number; parser: number; asyncRetries: number };
let rawObjects = 0;
let hops = 0;
const previousHome = process.env.FANOUT_HOME;

beforeAll(async () => {
  home = await tempHome('report');
  const session = await startE2eSession(home, { demo: { port: 0, count: 4 } });
  try {
    const cycle = await session.cycle({ time: TIME, maxWaitMs: 120_000 });
    runId = cycle.runId;
    rawObjects = cycle.status.rawObjects;
    hops = (await session.records.records(runId)).results.length;
    const requests = session.cloud.s3Stats().requests as Record<string, number>;
    const lambda = session.cloud.lambda.stats();
    const fn = (id: 'collector' | 'parser') => lambda[session.cloud.functionName(id)];
    measured = {
      // Writes only: a first run lists the run ids once (no earlier run to find by key).
      putTier: ['PUT', 'COPY', 'POST'].reduce((sum, op) => sum + (requests[op] ?? 0), 0),
      collector: fn('collector')?.invocations ?? 0,
      parser: fn('parser')?.invocations ?? 0,
      asyncRetries: Object.values(lambda).reduce((sum, s) => sum + s.retries + s.duplicates, 0),
    };
  } finally {
    await session.stop();
  }
  process.env.FANOUT_HOME = home;
}, 300_000);

afterAll(async () => {
  if (previousHome === undefined) delete process.env.FANOUT_HOME;
  else process.env.FANOUT_HOME = previousHome;
  await removeHome(home);
});

describe('fanout cost and report on a local run', () => {
  it('prints a monthly estimate whose counts match what the local cloud measured', async () => {
    // Act
    const { code, stdout } = await fanout('cost', '--json');
    // Assess
    expect(code).toBe(0);
    const estimate = JSON.parse(stdout);
    expect(estimate.runsSampled).toEqual([runId]);
    expect(estimate.runsPerMonth).toBe(4320);
    expect(estimate.perRun.functions.collector.invocations).toBe(hops);
    expect(estimate.perRun.functions.parser.invocations).toBe(rawObjects);
    expect(estimate.usd.total).toBeGreaterThan(0);
    expect(estimate.assumptions.length).toBeGreaterThan(0);
    const modelWrites = estimate.perRun.s3ByOperation.PUT + estimate.perRun.s3ByOperation.COPY;
    // The local cloud's manifest upload does not go through the counted endpoint, so the
    // writes the functions made are the writes the records stand for (more if a Lambda
    // retry or duplicate delivery wrote an object again).
    if (measured.asyncRetries === 0) {
      expect(modelWrites).toBe(measured.putTier);
      expect(measured.collector).toBe(hops);
      expect(measured.parser).toBe(rawObjects);
    } else {
      expect(modelWrites).toBeLessThanOrEqual(measured.putTier);
    }
  });

  it('prints the estimate, how it was made and the prices as text', async () => {
    // Act
    const { code, stdout } = await fanout('cost', '--runs', '3');
    // Assess
    expect(code).toBe(0);
    expect(stdout).toContain(
      `From 1 run (${runId}); schedule rate(10 minutes): 4,320 runs a month`,
    );
    expect(stdout).toMatch(/S3 requests per run \(the model, counted from the records\): PUT \d+/);
    expect(stdout).toContain('Assumptions:');
    expect(stdout).toContain('lambdaArm64GbSecond: $0.0000133334 per GB-second (2026-11');
  });

  it('writes the report of the latest run to the file named', async () => {
    // Prepare
    const out = join(home ?? '', 'report.html');
    // Act
    const { code, stdout } = await fanout('report', '--out', out);
    // Assess
    expect(code).toBe(0);
    expect(stdout).toContain(`Wrote ${out} (run ${runId}`);
    const html = await readFile(out, 'utf8');
    expect(html).toContain(`<title>Fanout run ${runId}</title>`);
    expect(html.match(/data-kind="hop"/g)?.length).toBe(hops);
  });

  it('refuses a bad schedule and an unknown run as usage errors', async () => {
    // Act
    const badSchedule = await fanout('cost', '--schedule', 'rate(0 minutes)');
    const unknown = await fanout('report', 'no-such-run');
    // Assess
    expect(badSchedule.code).toBe(2);
    expect(badSchedule.stderr).toContain('--schedule');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('run no-such-run not found');
  });
});

import { PassThrough } from 'node:stream';
import {
  CollectorPayloadSchema,
  check,
  finalOutcomes,
  parsedKeyForRaw,
  parseS3Event,
  type RunRecords,
  type RunStatus,
} from '@fanout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chaos } from '../../src/chaos.js';
import { main } from '../../src/cli.js';
import { openBucket } from '../../src/commands/bucket.js';
import type { Io } from '../../src/commands/run.js';
import type { DeadLetter } from '../../src/lambda/index.js';
import { RunRecordReader } from '../../src/run-records.js';
import { type CycleResult, LocalSession } from '../../src/session.js';
import {
  E2E_RETRY_DELAY_SCALE,
  parsedKeysOfRun,
  plannedSourceIds,
  rawKeysOfRun,
  removeHome,
  seeded,
  tempHome,
} from './helpers.js';

const GENERATED = 300;
/**
 * Rates high enough that several hundred sources certainly meet every fault:
 * at 0.3 a source fails all of the collector's attempts a few times per run,
 * and a forced timeout lands in about half the collector invocations (some
 * events fail all three attempts and are dead-lettered).
 */
const CHAOS: Chaos = {
  upstreamErrors: 0.3,
  upstreamHangs: 0.02,
  s3Errors: 0.03,
  duplicates: 0.3,
  collectorTimeouts: 0.5,
};
/**
 * Fewer concurrent workers than the topology's 20: on a 2-core machine twenty
 * cold-starting collector threads time out for real, which is not what this
 * test is about. A longer timeout gives forced timeouts room to land mid-batch.
 */
const COLLECTOR = { timeoutSeconds: 10, reservedConcurrency: 4 };
const PARSER = { reservedConcurrency: 4 };

function capture(): { io: Io; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  stdout.on('data', (chunk: Buffer) => chunks.out.push(chunk));
  stderr.on('data', (chunk: Buffer) => chunks.err.push(chunk));
  return {
    io: { stdout, stderr } as unknown as Io,
    out: () => Buffer.concat(chunks.out).toString('utf8'),
    err: () => Buffer.concat(chunks.err).toString('utf8'),
  };
}

/** Source ids and raw keys a dead-lettered event would have dealt with. */
function coveredBy(letters: readonly DeadLetter[]): { sources: Set<string>; keys: Set<string> } {
  const sources = new Set<string>();
  const keys = new Set<string>();
  for (const letter of letters) {
    const payload = check(CollectorPayloadSchema, letter.event);
    if (payload.ok) for (const task of payload.value.tasks) sources.add(task.source.id);
    try {
      for (const object of parseS3Event(letter.event).objects) keys.add(object.key);
    } catch {
      // Not an S3 event.
    }
  }
  return { sources, keys };
}

interface Inspection {
  status: RunStatus;
  records: RunRecords;
  parsedKeys: string[];
  rawKeys: string[];
}

/** Reads a run from the data folder alone (the session that wrote it is stopped). */
async function inspect(dataHome: string, runId: string): Promise<Inspection> {
  const bucket = await openBucket({}, dataHome);
  try {
    const reader = new RunRecordReader(bucket.s3, bucket.bucket);
    return {
      status: await reader.status(runId),
      records: await reader.records(runId),
      parsedKeys: await parsedKeysOfRun(reader, runId),
      rawKeys: await rawKeysOfRun(reader, runId),
    };
  } finally {
    await bucket.close();
  }
}

function expectOneParsedObjectPerRawObject({ records, parsedKeys, rawKeys }: Inspection): void {
  const parsed = [...records.rawOutcomes].filter(([, raw]) => raw.status === 'parsed');
  expect(parsed.length).toBeGreaterThan(0);
  expect(new Set(parsedKeys).size).toBe(parsedKeys.length);
  // Each parsed object derives from exactly one raw object of the run...
  const fromRaw = new Set(rawKeys.map((key) => parsedKeyForRaw(key)));
  for (const key of parsedKeys) expect(fromRaw.has(key), key).toBe(true);
  // ...and every raw object the records call parsed has its parsed object, whose outcome names it.
  for (const [rawKey, raw] of parsed) {
    expect(parsedKeys).toContain(parsedKeyForRaw(rawKey));
    if (raw.status === 'parsed') expect(raw.outcome.rawKey).toBe(rawKey);
  }
}

let home: string;
let session: LocalSession | undefined;
let demoPort: number;
let chaotic: CycleResult;
let chaoticRecords: RunRecords;
let letters: DeadLetter[];
let injected: { upstream: number; s3: number; duplicates: number; timeouts: number };

beforeAll(async () => {
  home = await tempHome('chaos');
  session = await LocalSession.start({
    home,
    s3Port: 0,
    lambdaPort: 0,
    functions: { collector: COLLECTOR, parser: PARSER },
    retryDelayScale: E2E_RETRY_DELAY_SCALE,
    chaos: CHAOS,
    random: seeded(20_260_701),
    demo: {
      port: 0,
      count: GENERATED,
      latencyMs: [20, 120],
      slowDelayMs: COLLECTOR.timeoutSeconds * 1000,
      seed: 7,
    },
  });
  demoPort = Number(new URL(session.demo.url).port);
  // Generous: forced timeouts, retries and redrives run one after another, and on a busy
  // 2-core machine (two test suites at once) the cycle took over 150 s.
  chaotic = await session.cycle({ time: new Date('2026-07-01T12:00:00Z'), maxWaitMs: 480_000 });
  chaoticRecords = await session.records.records(chaotic.runId);
  letters = await session.cloud.lambda.deadLetters();
  const lambda = Object.values(session.cloud.lambda.stats());
  const demo = session.demo.stats();
  const s3 = session.cloud.s3Stats();
  injected = {
    upstream: demo.injectedErrors + demo.injectedHangs,
    s3: s3.injectedErrors,
    duplicates: lambda.reduce((sum, fn) => sum + fn.duplicates, 0),
    timeouts: lambda.reduce((sum, fn) => sum + fn.forcedTimeouts, 0),
  };
  await session.stop();
  session = undefined;
}, 600_000);

afterAll(async () => {
  await session?.stop();
  await removeHome(home);
});

describe('a chaos cycle over several hundred sources', () => {
  it('actually met the faults', () => {
    expect(chaotic.status.sources).toBeGreaterThan(GENERATED);
    expect(injected.upstream).toBeGreaterThan(0);
    expect(injected.s3).toBeGreaterThan(0);
    expect(injected.duplicates).toBeGreaterThan(0);
    expect(injected.timeouts).toBeGreaterThan(0);
    expect(chaotic.deadLettered).toBe(letters.length);
    // Something is left for replay: dead-lettered events or tasks that failed every attempt.
    expect(letters.length + chaotic.status.failed).toBeGreaterThan(0);
    // A collector hop Lambda gave up on went to the manager (its on-failure destination),
    // which redrove it: no collector event is dead-lettered.
    expect(letters.filter((l) => l.functionName === 'fanout-collector')).toEqual([]);
  });

  it('accounts for every source exactly once, pending only where a dead letter explains it', () => {
    const { status } = chaotic;
    const planned = plannedSourceIds(chaoticRecords);
    expect(new Set(planned).size).toBe(planned.length);
    expect(status.sources).toBe(
      status.collected + status.unchanged + status.failed + status.pending,
    );
    // One final outcome per source: duplicates and retries overwrite the same records.
    const outcomes = finalOutcomes(chaoticRecords.results);
    for (const sourceId of outcomes.keys()) expect(planned).toContain(sourceId);

    const covered = coveredBy(letters);
    const managerLetters = letters.filter((l) => l.functionName === 'fanout-manager');
    for (const sourceId of status.pendingSourceIds) {
      expect(covered.sources.has(sourceId) || managerLetters.length > 0, sourceId).toBe(true);
    }
    // A raw object without a parse outcome is explained by a dead letter: a pack is written
    // once (first writer wins), so no pack can end up with the outcome of an earlier version.
    for (const key of status.unparsedKeys) expect(covered.keys.has(key), key).toBe(true);
  });

  it('never duplicates parsed output', async () => {
    expectOneParsedObjectPerRawObject(await inspect(home, chaotic.runId));
  });

  it('`fanout replay` brings the dead-lettered work to completion', async () => {
    const saved = process.env.FANOUT_HOME;
    process.env.FANOUT_HOME = home;
    const streams = capture();
    let code: number;
    try {
      code = await main(
        [
          'replay',
          chaotic.runId,
          '--json',
          '--s3-port',
          '0',
          '--lambda-port',
          '0',
          '--demo-port',
          String(demoPort),
        ],
        streams.io,
      );
    } finally {
      if (saved === undefined) delete process.env.FANOUT_HOME;
      else process.env.FANOUT_HOME = saved;
    }
    expect(streams.err()).toBe('');
    const report = JSON.parse(streams.out()) as {
      deadLettersRedelivered: number;
      deadLettersDropped: number;
      complete: boolean;
      status: {
        pending: number;
        unparsed: number;
        sources: number;
        failed: number;
        quarantined: number;
      };
    };
    // As `status` exits: complete, and 1 when sources failed or pages were quarantined.
    expect(code).toBe(report.status.failed + report.status.quarantined > 0 ? 1 : 0);
    // Every letter is this run's: sent again, or dropped when its work was done since.
    expect(report.deadLettersRedelivered + report.deadLettersDropped).toBe(letters.length);
    expect(report.status.pending).toBe(0);
    expect(report.status.unparsed).toBe(0);
    expect(report.status.sources).toBe(chaotic.status.sources);
    expect(report.complete).toBe(true);

    const after = await inspect(home, chaotic.runId);
    expect(after.status.complete).toBe(true);
    expectOneParsedObjectPerRawObject(after);
    // Every source's final outcome now carries its raw objects, each parsed or quarantined.
    const parsedFor = new Set(after.records.rawOutcomes.keys());
    for (const outcome of finalOutcomes(after.records.results).values()) {
      if (outcome.status === 'ok')
        for (const key of outcome.rawKeys) expect(parsedFor).toContain(key);
    }
  }, 300_000);
});

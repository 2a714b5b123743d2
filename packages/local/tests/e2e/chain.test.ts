import { parseScheduleExpression, type RunStatus } from '@fanout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedCloud, startLocalStack } from '../../src/commands/start.js';
import type { RunSummary } from '../../src/commands/summary.js';
import { generatedCountIn } from '../../src/demo/index.js';
import { assertPortFree } from '../../src/ports.js';
import { RunRecordReader } from '../../src/run-records.js';
import { fanout } from '../cli/run-cli.js';
import { E2E_COLLECTOR_TIMEOUT_SECONDS, removeHome, tempHome } from './helpers.js';

/**
 * State that carries across local runs, through the CLI and the local cloud as a user
 * runs them: `fanout run` twice without `--time` (manual runs), then `fanout start` with
 * its own schedule on the same data folder.
 */

const GENERATED = 6;

let home: string;
let demoPort: number;
const previousHome = process.env.FANOUT_HOME;
const runs: RunSummary[] = [];

beforeAll(async () => {
  home = await tempHome('chain');
  // A port free a moment ago: the demo sources keep theirs across runs, as 4602 does.
  demoPort = await assertPortFree(0);
  process.env.FANOUT_HOME = home;
  for (let i = 0; i < 2; i += 1) {
    const result = await fanout(
      'run',
      '--json',
      '--sources',
      String(GENERATED),
      '--latency',
      '0',
      '--collector-timeout',
      String(E2E_COLLECTOR_TIMEOUT_SECONDS),
      '--s3-port',
      '0',
      '--lambda-port',
      '0',
      '--demo-port',
      String(demoPort),
    );
    runs.push(JSON.parse(result.stdout) as RunSummary);
    // Run ids are the second a manual run started at: the next one is a new run.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
  }
}, 600_000);

afterAll(async () => {
  if (previousHome === undefined) delete process.env.FANOUT_HOME;
  else process.env.FANOUT_HOME = previousHome;
  await removeHome(home);
});

describe('fanout run twice without --time', () => {
  it('runs the second from the first: every source unchanged, no page stored', () => {
    const [first, second] = runs;
    expect(first).toMatchObject({ complete: true, failed: 0 });
    // Every task is collected: the sources and the demo shop's detail pages.
    expect(first?.detailPages).toBeGreaterThan(0);
    expect(first?.collected).toBe((first?.sources ?? 0) + (first?.detailPages ?? 0));
    expect(second?.runId).not.toBe(first?.runId);
    expect(second).toMatchObject({ complete: true, collected: 0, failed: 0, pages: 0 });
    expect(second?.detailPages).toBe(first?.detailPages);
    expect(second?.unchanged).toBe((second?.sources ?? 0) + (second?.detailPages ?? 0));
  });
});

describe('fanout start --schedule "rate(1 minute)" on the same data folder', () => {
  let stack: StartedCloud;
  const cycles: { status: RunStatus; lists: number }[] = [];

  beforeAll(async () => {
    stack = await startLocalStack({
      home,
      ports: { s3: 0, lambda: 0, demo: demoPort },
      collectorTimeoutSeconds: E2E_COLLECTOR_TIMEOUT_SECONDS,
      schedule: 'rate(1 minute)',
      demo: true,
    });
    const { cloud } = stack;
    const reader = new RunRecordReader(cloud.s3, cloud.bucket);
    const schedule = parseScheduleExpression('rate(1 minute)');
    let time: Date | undefined = schedule.next(new Date());
    for (let i = 0; i < 3 && time; i += 1) {
      const listsBefore = cloud.s3Stats().requests.LIST ?? 0;
      const event = await cloud.fireSchedule(time);
      await cloud.settled();
      const runId = event.time.replace(/[-:]/g, '');
      cycles.push({
        status: await reader.status(runId),
        lists: (cloud.s3Stats().requests.LIST ?? 0) - listsBefore,
      });
      time = schedule.next(time);
    }
  }, 600_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('serves exactly the sources of the manifest it found, and tells the manager its schedule', () => {
    const served = generatedCountIn(JSON.stringify(stack.demo?.manifest()));
    expect(served).toBe(GENERATED);
    expect(stack.cloud.topology.schedule.expression).toBe('rate(1 minute)');
    for (const { status } of cycles) expect(status).toMatchObject({ complete: true, failed: 0 });
  });

  it('finds each previous run by its fire time: cycles 2 and 3 are all unchanged, with no listing', () => {
    for (const { status, lists } of cycles.slice(1)) {
      expect(status).toMatchObject({ collected: 0, pages: 0 });
      expect(status.detailTasks).toBeGreaterThan(0);
      expect(status.unchanged).toBe(status.sources + status.detailTasks);
      expect(lists).toBe(0);
    }
    // The first scheduled run continues from the last manual run, logged for it.
    const first = cycles[0]?.status;
    expect(first?.unchanged).toBe((first?.sources ?? 0) + (first?.detailTasks ?? 0));
  });
});

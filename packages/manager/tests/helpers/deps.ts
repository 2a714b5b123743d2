import type { TestS3 } from '@fanout/testkit';
import { captureLog, ManualClock } from '@fanout/testkit';
import { type LambdaInvoker, loadConfig, type ManagerDeps } from '../../src/index.js';

export function testDeps(
  s3: TestS3,
  lambda: LambdaInvoker,
  env: Record<string, string> = {},
): ManagerDeps & { log: ReturnType<typeof captureLog>; sleeps: number[] } {
  const sleeps: number[] = [];
  return {
    config: loadConfig({
      FANOUT_BUCKET: s3.bucket,
      FANOUT_COLLECTOR_FUNCTION: 'fanout-collector',
      FANOUT_MANAGER_FUNCTION: 'fanout-manager',
      ...env,
    }),
    store: { s3: s3.client, bucket: s3.bucket },
    lambda,
    log: captureLog(),
    clock: new ManualClock(),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    sleeps,
  };
}

export const SCHEDULED = {
  version: '0',
  id: 'c1e3b1c2-0000-0000-0000-000000000000',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '000000000000',
  time: '2026-11-25T13:10:00Z',
  region: 'us-east-1',
  resources: ['arn:aws:events:us-east-1:000000000000:rule/fanout-schedule'],
  detail: {},
} as const;

export const SCHEDULED_RUN_ID = '20261125T131000Z';

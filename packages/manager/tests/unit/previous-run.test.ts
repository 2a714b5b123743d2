import { parseScheduleExpression } from '@fanout/shared';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, previousRunIds } from '../../src/index.js';

const BASE = { FANOUT_BUCKET: 'bucket', FANOUT_COLLECTOR_FUNCTION: 'fanout-collector' };

describe('previousRunIds', () => {
  it('steps a rate back from the run’s own fire time by whole periods', () => {
    // Prepare: a rate rule created at :03:27 fires at :03:27, :13:27, ...
    const schedule = parseScheduleExpression('rate(10 minutes)');

    // Act
    const ids = previousRunIds(
      schedule,
      { at: new Date('2026-11-25T13:13:27Z'), isFireTime: true },
      3,
    );

    // Assess
    expect(ids).toEqual(['20261125T130327Z', '20261125T125327Z', '20261125T124327Z']);
  });

  it('evaluates a cron backwards, across a weekend', () => {
    const schedule = parseScheduleExpression('cron(0 18 ? * MON-FRI *)');
    const ids = previousRunIds(
      schedule,
      { at: new Date('2026-11-30T18:00:00Z'), isFireTime: true },
      2,
    );
    expect(ids).toEqual(['20261127T180000Z', '20261126T180000Z']);
  });

  it('starts a manual run’s walk at the latest fire time before the clock', () => {
    const schedule = parseScheduleExpression('rate(10 minutes)');
    const ids = previousRunIds(
      schedule,
      { at: new Date('2026-11-25T13:14:59Z'), isFireTime: false },
      2,
    );
    expect(ids).toEqual(['20261125T131000Z', '20261125T130000Z']);
  });
});

describe('schedule settings', () => {
  it('defaults to the topology’s schedule and reads FANOUT_SCHEDULE', () => {
    expect(loadConfig(BASE).schedule.expression).toBe('rate(10 minutes)');
    const config = loadConfig({
      ...BASE,
      FANOUT_SCHEDULE: 'cron(0/5 * * * ? *)',
      FANOUT_PREVIOUS_RUN_LOOKBACK: '4',
    });
    expect(config.schedule.kind).toBe('cron');
    expect(config.previousRunLookback).toBe(4);
  });

  it('fails at cold start on an expression EventBridge would not accept, naming the variable', () => {
    expect(() => loadConfig({ ...BASE, FANOUT_SCHEDULE: 'rate(30 seconds)' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...BASE, FANOUT_SCHEDULE: 'rate(30 seconds)' })).toThrow(
      /^FANOUT_SCHEDULE: invalid schedule expression "rate\(30 seconds\)"/,
    );
    expect(() => loadConfig({ ...BASE, FANOUT_PREVIOUS_RUN_LOOKBACK: '0' })).toThrow(
      'FANOUT_PREVIOUS_RUN_LOOKBACK',
    );
  });
});

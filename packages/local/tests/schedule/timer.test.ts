import { parseManagerEvent, topology } from '@fanout/shared';
import { ManualClock } from '@fanout/testkit';
import { describe, expect, it } from 'vitest';
import {
  MAX_TIMER_DELAY_MS,
  type ScheduledRuleEvent,
  type SetTimer,
  scheduledEvent,
  startSchedule,
} from '../../src/schedule/index.js';

interface PendingTimer {
  readonly callback: () => void;
  readonly delayMs: number;
  cancelled: boolean;
}

/** A timer the test fires by hand, recording what was asked of it. */
function manualTimers(): { setTimer: SetTimer; timers: PendingTimer[]; fireLast(): void } {
  const timers: PendingTimer[] = [];
  return {
    timers,
    setTimer: (callback, delayMs) => {
      const timer = { callback, delayMs, cancelled: false };
      timers.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
    fireLast() {
      const timer = timers.at(-1);
      if (!timer || timer.cancelled) throw new Error('no live timer');
      timer.callback();
    },
  };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('scheduledEvent', () => {
  it('has the shape EventBridge sends and that the manager accepts', () => {
    const event = scheduledEvent(new Date('2026-11-25T13:10:00.250Z'), {
      ruleName: 'fanout-manager-schedule',
      region: 'eu-west-1',
      account: '123456789012',
    });

    expect(event).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '123456789012',
      time: '2026-11-25T13:10:00Z',
      region: 'eu-west-1',
      resources: ['arn:aws:events:eu-west-1:123456789012:rule/fanout-manager-schedule'],
      detail: {},
    });
    expect(parseManagerEvent(event)).toEqual({
      kind: 'schedule',
      runId: '20261125T131000Z',
      scheduledAt: '2026-11-25T13:10:00.000Z',
      via: 'rule',
    });
  });
});

describe('startSchedule', () => {
  it('fires at each scheduled time with that time in the event', async () => {
    const clock = new ManualClock(Date.parse('2026-11-25T13:10:00Z'));
    const { setTimer, timers, fireLast } = manualTimers();
    const events: ScheduledRuleEvent[] = [];

    const running = startSchedule(
      topology.schedule.expression,
      (event) => {
        events.push(event);
      },
      { clock, setTimer, ruleName: 'r', region: 'us-east-1', account: '000000000000' },
    );
    expect(timers.map((timer) => timer.delayMs)).toEqual([600_000]);
    clock.advance(600_000);
    fireLast();
    clock.advance(600_000);
    fireLast();
    await flush();

    expect(events.map((event) => event.time)).toEqual([
      '2026-11-25T13:20:00Z',
      '2026-11-25T13:30:00Z',
    ]);
    expect(events[0]?.resources).toEqual(['arn:aws:events:us-east-1:000000000000:rule/r']);
    expect(running.nextTime()?.toISOString()).toBe('2026-11-25T13:40:00.000Z');
    running.stop();
    expect(timers.at(-1)?.cancelled).toBe(true);
  });

  it('waits out a timer that wakes early without firing', async () => {
    const clock = new ManualClock(Date.parse('2026-11-25T13:10:00Z'));
    const { setTimer, timers, fireLast } = manualTimers();
    const events: ScheduledRuleEvent[] = [];
    startSchedule(
      'rate(1 minute)',
      (event) => {
        events.push(event);
      },
      { clock, setTimer },
    );

    clock.advance(59_000);
    fireLast();
    await flush();

    expect(events).toEqual([]);
    expect(timers.map((timer) => timer.delayMs)).toEqual([60_000, 1_000]);
  });

  it('skips times missed while asleep instead of catching up', async () => {
    const clock = new ManualClock(Date.parse('2026-11-25T13:10:00Z'));
    const { setTimer, timers, fireLast } = manualTimers();
    const events: ScheduledRuleEvent[] = [];
    startSchedule(
      'cron(0/10 * * * ? *)',
      (event) => {
        events.push(event);
      },
      { clock, setTimer },
    );

    clock.advance(35 * 60_000);
    fireLast();
    await flush();

    expect(events.map((event) => event.time)).toEqual(['2026-11-25T13:20:00Z']);
    expect(timers.at(-1)?.delayMs).toBe(5 * 60_000);
  });

  it('chains waits longer than a timer allows', () => {
    const clock = new ManualClock(Date.parse('2026-11-25T13:10:00Z'));
    const { setTimer, timers } = manualTimers();
    startSchedule('cron(0 0 1 JAN ? *)', () => undefined, { clock, setTimer });

    expect(timers[0]?.delayMs).toBe(MAX_TIMER_DELAY_MS);
  });

  it('reports a failed target and keeps the schedule running', async () => {
    const clock = new ManualClock(Date.parse('2026-11-25T13:10:00Z'));
    const { setTimer, timers, fireLast } = manualTimers();
    const errors: string[] = [];
    startSchedule('rate(1 minute)', () => Promise.reject(new Error('manager down')), {
      clock,
      setTimer,
      onError: (error, event) => errors.push(`${event.time} ${(error as Error).message}`),
    });

    clock.advance(60_000);
    fireLast();
    await flush();

    expect(errors).toEqual(['2026-11-25T13:11:00Z manager down']);
    expect(timers).toHaveLength(2);
    expect(timers[1]?.cancelled).toBe(false);
  });

  it('fires on real timers', async () => {
    // A schedule whose times come from a clock running ahead, so the real timer is short.
    const start = Date.now();
    const clock = { now: () => Date.now() - start + Date.parse('2026-11-25T13:10:59.950Z') };
    const fired = new Promise<ScheduledRuleEvent>((resolve) => {
      const running = startSchedule(
        'rate(1 minute)',
        (event) => {
          running.stop();
          resolve(event);
        },
        { clock },
      );
    });

    expect((await fired).time).toBe('2026-11-25T13:11:00Z');
  });
});

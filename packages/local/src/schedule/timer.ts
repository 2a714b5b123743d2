import { type Clock, systemClock } from '@fanout/shared';
import { type ScheduledEventOptions, type ScheduledRuleEvent, scheduledEvent } from './event.js';
import { parseScheduleExpression, type Schedule } from './schedule.js';

/** Calls `callback` after about `delayMs`; returns a function that cancels it. */
export type SetTimer = (callback: () => void, delayMs: number) => () => void;

/** setTimeout cannot wait longer than this (about 24.8 days); longer waits are chained. */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

export const realTimer: SetTimer = (callback, delayMs) => {
  const timer = setTimeout(callback, delayMs);
  return () => clearTimeout(timer);
};

export const DEFAULT_SCHEDULE_EVENT_OPTIONS: ScheduledEventOptions = {
  ruleName: 'fanout-schedule',
  region: 'us-east-1',
  account: '000000000000',
};

export interface StartScheduleOptions extends Partial<ScheduledEventOptions> {
  readonly clock?: Clock;
  readonly setTimer?: SetTimer;
  /** Hears a failed `onTick`; default: one JSON line on stderr. */
  readonly onError?: (error: unknown, event: ScheduledRuleEvent) => void;
}

export interface RunningSchedule {
  /** The next time the schedule fires, if any. */
  nextTime(): Date | undefined;
  stop(): void;
}

function reportTickError(error: unknown, event: ScheduledRuleEvent): void {
  process.stderr.write(
    `${JSON.stringify({
      level: 'ERROR',
      message: 'scheduled target failed',
      time: event.time,
      error: error instanceof Error ? error.message : String(error),
    })}\n`,
  );
}

/**
 * Fires `onTick` with an EventBridge scheduled event at each scheduled time.
 * Like EventBridge, it does not wait for the target and does not catch up on
 * times missed while the process was not running: the next time is always
 * after the present.
 */
export function startSchedule(
  expression: string | Schedule,
  onTick: (event: ScheduledRuleEvent) => void | Promise<void>,
  options: StartScheduleOptions = {},
): RunningSchedule {
  const schedule =
    typeof expression === 'string' ? parseScheduleExpression(expression) : expression;
  const clock = options.clock ?? systemClock;
  const setTimer = options.setTimer ?? realTimer;
  const onError = options.onError ?? reportTickError;
  const eventOptions: ScheduledEventOptions = {
    ruleName: options.ruleName ?? DEFAULT_SCHEDULE_EVENT_OPTIONS.ruleName,
    region: options.region ?? DEFAULT_SCHEDULE_EVENT_OPTIONS.region,
    account: options.account ?? DEFAULT_SCHEDULE_EVENT_OPTIONS.account,
  };
  let due = schedule.next(new Date(clock.now()));
  let cancel: (() => void) | undefined;
  let stopped = false;

  const arm = (): void => {
    if (stopped || due === undefined) return;
    const delay = Math.min(Math.max(0, due.getTime() - clock.now()), MAX_TIMER_DELAY_MS);
    cancel = setTimer(fire, delay);
  };

  const fire = (): void => {
    cancel = undefined;
    if (stopped || due === undefined) return;
    const now = clock.now();
    // A timer may wake early (or a long wait was chained): wait for the rest.
    if (now < due.getTime()) {
      arm();
      return;
    }
    const event = scheduledEvent(due, eventOptions);
    due = schedule.next(new Date(Math.max(now, due.getTime())));
    arm();
    Promise.resolve()
      .then(() => onTick(event))
      .catch((error: unknown) => onError(error, event));
  };

  arm();
  return {
    nextTime: () => due,
    stop() {
      stopped = true;
      cancel?.();
      cancel = undefined;
    },
  };
}

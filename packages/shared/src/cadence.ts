import { parseScheduleExpression, type Schedule } from './schedule.js';
import { ScheduleExpressionError } from './schedule-errors.js';

/**
 * How often a source is collected (`"every"` in the manifest): a whole number of
 * minutes, hours or days (`30m`, `6h`, `1d`), or an AWS `cron(...)` expression
 * (the stack schedule's syntax, UTC). Whether a run collects the source is decided
 * by the manager from the run's scheduled time alone.
 */
export type Cadence =
  | { readonly text: string; readonly kind: 'interval'; readonly periodMs: number }
  | { readonly text: string; readonly kind: 'cron'; readonly schedule: Schedule };

export type CadenceRead = { ok: true; cadence: Cadence } | { ok: false; problem: string };

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const INTERVAL_PATTERN = /^(\d+)([mhd])$/;
/** A longer interval would put most scheduled times in one bucket since the epoch. */
export const MAX_CADENCE_INTERVAL_MS = 366 * UNIT_MS.d;
const EXPECTED = 'must be a number of minutes, hours or days (30m, 6h, 1d) or cron(...)';

/** Reads a cadence; the problem, when there is one, says what is wrong and how to write it. */
export function readCadence(text: string): CadenceRead {
  const interval = INTERVAL_PATTERN.exec(text);
  if (interval) {
    const [, count = '', unit = 'm'] = interval;
    const periodMs = Number(count) * UNIT_MS[unit as keyof typeof UNIT_MS];
    if (periodMs < UNIT_MS.m) return { ok: false, problem: 'must be at least 1m' };
    if (periodMs > MAX_CADENCE_INTERVAL_MS) return { ok: false, problem: 'must be at most 366d' };
    return { ok: true, cadence: { text, kind: 'interval', periodMs } };
  }
  if (text.startsWith('cron(')) {
    try {
      return { ok: true, cadence: { text, kind: 'cron', schedule: parseScheduleExpression(text) } };
    } catch (error) {
      if (error instanceof ScheduleExpressionError) return { ok: false, problem: error.problem };
      throw error;
    }
  }
  return { ok: false, problem: EXPECTED };
}

/** Fire times sampled to find a cron's shortest gap: a few years of a daily cron. */
const CRON_SAMPLE_FIRES = 1_000;

/**
 * The shortest time between two consecutive fire times: the period of a rate or an
 * interval; for a cron, the shortest gap among its first fire times from the epoch
 * (a cron's gaps repeat within days, weeks or months). Undefined for a cron that
 * fires fewer than twice.
 */
export function shortestIntervalMs(timing: Schedule | Cadence): number | undefined {
  if ('periodMs' in timing && timing.periodMs !== undefined) return timing.periodMs;
  const schedule = 'schedule' in timing ? timing.schedule : (timing as Schedule);
  let shortest: number | undefined;
  let at = schedule.next(new Date(0));
  for (let fires = 1; at !== undefined && fires < CRON_SAMPLE_FIRES; fires += 1) {
    const next = schedule.next(at);
    if (next === undefined) break;
    const gap = next.getTime() - at.getTime();
    if (shortest === undefined || gap < shortest) shortest = gap;
    at = next;
  }
  return shortest;
}

/** `300000` -> `5 minutes`: the largest unit that divides it. */
export function describeInterval(ms: number): string {
  const [unit, size] =
    ms % UNIT_MS.d === 0
      ? ['day', UNIT_MS.d]
      : ms % UNIT_MS.h === 0
        ? ['hour', UNIT_MS.h]
        : ['minute', UNIT_MS.m];
  const count = Math.round(ms / size);
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

/**
 * Why a cadence cannot be kept by a stack's schedule, or undefined: a run collects a
 * source at most once, so a cadence whose fire times come closer together than the
 * schedule's would silently fall back to the schedule's rhythm.
 */
export function cadenceScheduleProblem(cadence: Cadence, schedule: Schedule): string | undefined {
  const cadenceMs = shortestIntervalMs(cadence);
  const scheduleMs = shortestIntervalMs(schedule);
  if (cadenceMs === undefined || scheduleMs === undefined || cadenceMs >= scheduleMs) {
    return undefined;
  }
  return (
    `is finer than the stack's schedule ${schedule.expression} (fire times ` +
    `${describeInterval(cadenceMs)} apart, the schedule's ${describeInterval(scheduleMs)}): ` +
    'a source is collected at most once per scheduled run'
  );
}

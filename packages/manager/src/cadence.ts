import {
  type Cadence,
  previousFireTimes,
  readCadence,
  type Schedule,
  type Source,
} from '@fanout/shared';

/**
 * Which sources a scheduled run collects. The decision is a function of the run's
 * scheduled time and the stack's schedule alone (no state, no clock), so a duplicate
 * delivery, a retry and a replay of the same tick all agree.
 */

/**
 * The stack's fire time before `scheduledAt`: for a rate, one period earlier (the run's
 * time is a real fire time, as the previous-run lookup assumes); for a cron, the
 * expression evaluated backwards. Undefined when the schedule has none.
 */
export function previousStackFire(schedule: Schedule, scheduledAt: Date): Date | undefined {
  return previousFireTimes(schedule, scheduledAt, 1, { fromIsFireTime: true })[0];
}

/**
 * A cadence is due at a run when one of its fire times falls in (previous stack fire,
 * this fire]: for `every: "1h"`, a multiple of one hour since the epoch (UTC); for a
 * cron, one of its fire times. With no previous stack fire every cadence is due.
 */
export function isDue(
  cadence: Cadence,
  scheduledAt: Date,
  previousFire: Date | undefined,
): boolean {
  if (previousFire === undefined) return true;
  const now = scheduledAt.getTime();
  if (cadence.kind === 'interval') {
    return (
      Math.floor(now / cadence.periodMs) !== Math.floor(previousFire.getTime() / cadence.periodMs)
    );
  }
  const next = cadence.schedule.next(previousFire);
  return next !== undefined && next.getTime() <= now;
}

export interface CadenceSplit {
  readonly due: Source[];
  readonly notDue: Source[];
}

/**
 * Splits valid sources into those due at `scheduledAt` and the others. A source
 * without `every` is due every run. Each cadence text is read once.
 */
export function splitByCadence(
  sources: readonly Source[],
  scheduledAt: Date,
  schedule: Schedule,
): CadenceSplit {
  const previousFire = previousStackFire(schedule, scheduledAt);
  const dueByCadence = new Map<string, boolean>();
  const due: Source[] = [];
  const notDue: Source[] = [];
  for (const source of sources) {
    const every = source.every;
    let sourceDue = true;
    if (every !== undefined) {
      let known = dueByCadence.get(every);
      if (known === undefined) {
        const read = readCadence(every);
        // The manifest check rejected unreadable cadences; should one get here, collect it.
        known = read.ok ? isDue(read.cadence, scheduledAt, previousFire) : true;
        dueByCadence.set(every, known);
      }
      sourceDue = known;
    }
    (sourceDue ? due : notDue).push(source);
  }
  return { due, notDue };
}

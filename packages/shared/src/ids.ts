import * as z from 'zod/mini';

/**
 * Source ids become S3 key segments (`source=<id>`) and log fields, so they are
 * restricted to characters that need no encoding anywhere: no slash, no `=`, no space.
 */
export const SOURCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export const SourceIdSchema = z
  .string()
  .check(
    z.regex(
      SOURCE_ID_PATTERN,
      'must be 1-128 characters of A-Z a-z 0-9 _ . - starting with a letter or digit',
    ),
  );

/** Run ids: the scheduled time in ISO basic form (20261125T131000Z) or a manual name. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const RunIdSchema = z
  .string()
  .check(
    z.regex(
      RUN_ID_PATTERN,
      'must be 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit',
    ),
  );

export const BatchIdSchema = z.string().check(z.regex(/^b[0-9]{5,}$/, 'must look like b00042'));

export function batchId(index: number): string {
  return `b${String(index).padStart(5, '0')}`;
}

/**
 * The run id of a scheduled event: its scheduled `time`, not the clock, so a
 * duplicated delivery of the same schedule tick is the same run.
 * `2026-11-25T13:10:00Z` -> `20261125T131000Z`.
 */
export function runIdFromTime(time: string | Date): string {
  const date = typeof time === 'string' ? new Date(time) : time;
  if (Number.isNaN(date.getTime())) throw new RangeError(`not a time: ${String(time)}`);
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/** The ids `runIdFromTime` gives: `20261125T131000Z`. */
export const TIME_RUN_ID_PATTERN = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** The time a `runIdFromTime` id stands for, or undefined for another kind of id (`manual-1`). */
export function timeOfRunId(runId: string): Date | undefined {
  const match = TIME_RUN_ID_PATTERN.exec(runId);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second] = match;
  const time = new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}Z`);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

/** `YYYY-MM-DD` (UTC) of an ISO time, for `dt=` partitions. */
export function partitionDate(time: string): string {
  const date = new Date(time);
  if (Number.isNaN(date.getTime())) throw new RangeError(`not a time: ${time}`);
  return date.toISOString().slice(0, 10);
}

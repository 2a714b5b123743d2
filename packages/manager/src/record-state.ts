import {
  type BatchResult,
  finalOutcomes,
  fromParsedObjectMetadata,
  higherCursor,
  type Log,
  parsedKeyForRaw,
  type Source,
} from '@fanout/shared';
import { forEachBounded } from './dispatch.js';
import { RECORD_READ_CONCURRENCY } from './records.js';
import { type BucketRef, metadataOf } from './storage.js';

/**
 * What the parse of a fetch leaves in its source's state, for sources that emit changes or
 * read incrementally. The collector's outcome already names the fetch's raw objects (kept
 * for `emit: "changes"`); a cursor is only known to the parser, which writes it into the
 * parse outcome of each raw object (its parsed object's metadata): the manager reads it
 * with one HEAD per raw object, so no object is written for it.
 */
export interface RecordStateSources {
  /** Sources with `emit: "changes"`: an ok outcome's raw keys are kept. */
  readonly emitChanges: ReadonlySet<string>;
  /** Sources with a `cursor`: their fetches' cursors are read from the parse outcomes. */
  readonly cursors: ReadonlySet<string>;
}

export const NO_RECORD_STATE: RecordStateSources = { emitChanges: new Set(), cursors: new Set() };

export function recordStateSources(sources: readonly Source[]): RecordStateSources {
  return {
    emitChanges: new Set(sources.filter((s) => s.emit === 'changes').map((s) => s.id)),
    cursors: new Set(sources.filter((s) => s.cursor !== undefined).map((s) => s.id)),
  };
}

/**
 * The cursor each cursor source's latest fetch reached, by source: the highest value the
 * parse outcomes of all its raw objects report. A source one of whose raw objects reports
 * none (not parsed yet, quarantined, a page of it quarantined) is left out: its cursor
 * stays where it was, and the next fetch asks for those records again (the views count a
 * record once, however often it is written).
 */
export async function readCursors(
  ref: BucketRef,
  results: readonly BatchResult[],
  cursorSources: ReadonlySet<string>,
  log: Log,
): Promise<Map<string, string>> {
  const fetched = [...finalOutcomes(results).values()].flatMap((outcome) =>
    outcome.status === 'ok' && cursorSources.has(outcome.sourceId)
      ? [{ sourceId: outcome.sourceId, rawKeys: [...new Set(outcome.rawKeys)] }]
      : [],
  );
  const reported = new Map<string, Record<string, string> | undefined>();
  for (const { rawKeys } of fetched) for (const key of rawKeys) reported.set(key, undefined);
  await forEachBounded([...reported.keys()], RECORD_READ_CONCURRENCY, async (rawKey) => {
    const outcome = fromParsedObjectMetadata(await metadataOf(ref, parsedKeyForRaw(rawKey)));
    reported.set(rawKey, outcome?.cursors ?? {});
  });
  const cursors = new Map<string, string>();
  for (const { sourceId, rawKeys } of fetched) {
    let cursor: string | undefined;
    const silent: string[] = [];
    for (const key of rawKeys) {
      const value = reported.get(key)?.[sourceId];
      if (value === undefined) silent.push(key);
      cursor = higherCursor(cursor, value);
    }
    if (cursor !== undefined && silent.length === 0) {
      cursors.set(sourceId, cursor);
      continue;
    }
    log.info('cursor not advanced: a raw object of the fetch reports none', {
      sourceId,
      rawKeys: silent,
    });
  }
  return cursors;
}

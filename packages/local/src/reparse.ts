import { type ParseDefinition, parseRawKey, parseS3Event, type Source } from '@fanout/shared';
import type { DeadLetter } from './lambda/index.js';
import { type InvokeAsync, reparseEvent } from './replay.js';
import type { Listed, RunRecordReader } from './run-records.js';

export interface ReparseDeps {
  readonly reader: RunRecordReader;
  readonly bucket: string;
  readonly invoke: InvokeAsync;
  readonly parser: string;
  /** Waits until the sent events are handled (local cloud); then every outcome is final. */
  readonly settle?: () => Promise<void>;
  /** The dead letters (local cloud): an event the parser gave up on has no outcome to wait for. */
  readonly deadLetters?: () => Promise<readonly DeadLetter[]>;
  /** Without `settle` (AWS), how long to poll for outcomes. Default 15 minutes. */
  readonly maxWaitMs?: number;
  readonly pollMs?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly region?: string;
  /**
   * How to parse the sources of each object now (the current manifest's definitions);
   * absent, or undefined for an object, the definitions stored with it are used.
   */
  readonly definitionsFor?: (
    key: string,
  ) => Promise<Readonly<Record<string, ParseDefinition>> | undefined>;
}

/** `some-quarantined`: parsed, but some of its pages (pack entries) were quarantined on their own. */
export type ObjectReparseStatus =
  | 'parsed'
  | 'some-quarantined'
  | 'quarantined'
  | 'dead-lettered'
  | 'no-outcome';

export interface ObjectReparse {
  readonly key: string;
  readonly status: ObjectReparseStatus;
  /** Pages of the object parsed and quarantined (a pack has many, a single one). */
  readonly pages: number;
  readonly quarantinedPages: number;
  readonly reason?: string;
}

export interface ReparseReport {
  readonly objects: readonly ObjectReparse[];
  /** Objects parsed in full. */
  readonly parsed: number;
  /** Objects parsed with some pages quarantined. */
  readonly someQuarantined: number;
  /** Objects quarantined whole. */
  readonly quarantined: number;
  readonly deadLettered: number;
  readonly noOutcome: number;
  readonly pages: number;
  readonly pagesParsed: number;
  readonly pagesQuarantined: number;
  /** Objects that did not parse in full: quarantined (whole or some pages), dead-lettered, no outcome. */
  readonly failures: readonly ObjectReparse[];
}

/**
 * An outcome decided this long before the event was sent still counts as the
 * reparse's own: the parser's clock and ours need not agree to the millisecond.
 */
const CLOCK_SLACK_MS = 1_000;

function keysOf(letter: DeadLetter): string[] {
  try {
    return parseS3Event(letter.event).objects.map((object) => object.key);
  } catch {
    return [];
  }
}

/**
 * Sends each raw object (pack or single response) to the parser again and waits for
 * each one's own outcome: the parsed object's metadata or a quarantine report newer
 * than the send, or a dead letter. An object with none of them when the wait ends
 * is reported as having no outcome, never as done.
 */
export async function reparseObjects(
  objects: readonly Listed[],
  deps: ReparseDeps,
): Promise<ReparseReport> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const lettersBefore = new Set((await deps.deadLetters?.())?.map((letter) => letter.id) ?? []);
  const since = now() - CLOCK_SLACK_MS;
  // The outcome each object has now: the reparse's own must be newer (the slack above
  // would otherwise let a parse that ended a moment before the send pass for it).
  const before = new Map<string, number>();
  for (const object of objects) {
    const current = await deps.reader.readRawOutcome(object.key);
    if (current) before.set(object.key, Date.parse(current.at));
  }
  for (const object of objects) {
    const definitions = await deps.definitionsFor?.(object.key);
    await deps.invoke(
      deps.parser,
      reparseEvent(deps.bucket, object.key, deps.region, object.size, definitions),
    );
  }

  const results = new Map<string, ObjectReparse>();
  const readOutcomes = async () => {
    for (const object of objects) {
      if (results.has(object.key)) continue;
      const read = await deps.reader.readRawOutcome(object.key, since);
      if (!read || Date.parse(read.at) <= (before.get(object.key) ?? Number.NEGATIVE_INFINITY)) {
        continue;
      }
      const { outcome } = read;
      results.set(
        object.key,
        outcome.status === 'parsed'
          ? {
              key: object.key,
              status: outcome.outcome.quarantined > 0 ? 'some-quarantined' : 'parsed',
              pages: outcome.outcome.pages,
              quarantinedPages: outcome.outcome.quarantined,
              ...(outcome.outcome.quarantined > 0
                ? {
                    reason: `${outcome.outcome.quarantined} of ${outcome.outcome.pages} pages quarantined`,
                  }
                : {}),
            }
          : {
              key: object.key,
              status: 'quarantined',
              pages: 1,
              quarantinedPages: 1,
              reason: outcome.reason,
            },
      );
    }
  };

  if (deps.settle) {
    await deps.settle();
    await readOutcomes();
  } else {
    const deadline = now() + (deps.maxWaitMs ?? 15 * 60_000);
    await readOutcomes();
    while (results.size < objects.length && now() < deadline) {
      await sleep(deps.pollMs ?? 5_000);
      await readOutcomes();
    }
  }

  const letters = ((await deps.deadLetters?.()) ?? []).filter((l) => !lettersBefore.has(l.id));
  const letterOf = new Map(letters.flatMap((letter) => keysOf(letter).map((key) => [key, letter])));
  const ordered = objects.map((object): ObjectReparse => {
    const result = results.get(object.key);
    if (result) return result;
    const letter = letterOf.get(object.key);
    return letter
      ? {
          key: object.key,
          status: 'dead-lettered',
          pages: 0,
          quarantinedPages: 0,
          reason: `${letter.error.type}: ${letter.error.message}`,
        }
      : {
          key: object.key,
          status: 'no-outcome',
          pages: 0,
          quarantinedPages: 0,
          reason: 'no outcome yet',
        };
  });
  const count = (status: ObjectReparseStatus) =>
    ordered.filter((result) => result.status === status).length;
  const pages = ordered.reduce((sum, result) => sum + result.pages, 0);
  const pagesQuarantined = ordered.reduce((sum, result) => sum + result.quarantinedPages, 0);
  return {
    objects: ordered,
    parsed: count('parsed'),
    someQuarantined: count('some-quarantined'),
    quarantined: count('quarantined'),
    deadLettered: count('dead-lettered'),
    noOutcome: count('no-outcome'),
    pages,
    pagesParsed: pages - pagesQuarantined,
    pagesQuarantined,
    failures: ordered.filter((result) => result.status !== 'parsed'),
  };
}

/**
 * The definitions to parse a raw object's sources with, from a source manifest: a single
 * response names its source in its key, a pack its sources in its header (the outcomes
 * whose pages it holds). A source no longer in the manifest keeps what was stored.
 */
export function manifestDefinitions(
  sources: ReadonlyMap<string, Source>,
  reader: Pick<RunRecordReader, 'readPackHeaderAt'>,
): (key: string) => Promise<Record<string, ParseDefinition> | undefined> {
  const of = (ids: readonly string[]): Record<string, ParseDefinition> => {
    const definitions: Record<string, ParseDefinition> = {};
    for (const id of ids) {
      const source = sources.get(id);
      if (source) definitions[id] = { format: source.format, formatOptions: source.options };
    }
    return definitions;
  };
  return async (key) => {
    const single = parseRawKey(key);
    if (single) return of([single.sourceId]);
    const header = await reader.readPackHeaderAt(key);
    if (!header) return undefined;
    return of(
      header.result.outcomes.flatMap((outcome) =>
        outcome.status === 'ok' && outcome.rawKeys.includes(key) ? [outcome.sourceId] : [],
      ),
    );
  };
}

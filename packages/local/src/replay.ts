import { randomUUID } from 'node:crypto';
import { buildS3EventRecord } from '@fanout/local-s3';
import {
  type CollectorPayload,
  CollectorPayloadSchema,
  type CollectorTask,
  carriedToTask,
  check,
  finalOutcomes,
  type HopRecordReader,
  isPermanentFailure,
  type Log,
  offScheduleLogKey,
  type ParseDefinition,
  parseManagerEvent,
  parseManifestText,
  parseOffScheduleLog,
  parsePackKey,
  parseRawKey,
  parseS3Event,
  payloadSize,
  type Redispatch,
  RedispatchSchema,
  type RunManifest,
  type RunRecords,
  redispatchesPrefix,
  redispatchKey,
  runOfManagerTrigger,
  type SilentHop,
  type Source,
  sourceDefinition,
  stateForDefinition,
  topology,
  walkRun,
  withOffScheduleEntry,
} from '@fanout/shared';
import type { DeadLetter } from './lambda/index.js';
import { type RunRecordReader, referencedRawKeys } from './run-records.js';

/** Sends one asynchronous event to a function (local endpoint or AWS). */
export type InvokeAsync = (functionName: string, payload: unknown) => Promise<void>;

/** The on-failure destination, as far as replay needs it (local: files under dead-letters/). */
export interface DeadLetterInbox {
  list(): Promise<readonly DeadLetter[]>;
  /** Sends `event` to the letter's function in its place, then forgets the letter. */
  redeliver(letter: DeadLetter, event: unknown): Promise<void>;
  /** Forgets a letter whose work is already done. */
  discard(letter: DeadLetter): Promise<void>;
}

/** Writes replay's own records: its claims on silent hops and its entry in the off-schedule log. */
export interface ReplayWriter {
  /** Writes only if the key is absent (`If-None-Match: *`); false when it was there. */
  putJsonIfAbsent(key: string, value: unknown): Promise<boolean>;
  putJson(key: string, value: unknown): Promise<void>;
}

export interface ReplayDeps {
  readonly reader: RunRecordReader;
  readonly writer: ReplayWriter;
  readonly bucket: string;
  readonly invoke: InvokeAsync;
  readonly functions: { readonly collector: string; readonly parser: string };
  readonly payloadLimitBytes?: number;
  /** Also re-run tasks that have no outcome yet (only for a run that has stopped). */
  readonly includePending?: boolean;
  /**
   * Also re-send permanent failures (a 4xx other than 408 and 429, a body over the limit,
   * a refused address), which fail the same way until the source is edited. A source
   * edited since the run is sent again anyway.
   */
  readonly includeFailed?: boolean;
  readonly now?: () => number;
  /** Dead letters to re-deliver (the local cloud's); AWS's are in the SQS queue. */
  readonly deadLetters?: DeadLetterInbox;
  /** Waits until the work sent so far is done (local cloud); absent, work runs on its own. */
  readonly settle?: () => Promise<void>;
  readonly log?: Pick<Log, 'info' | 'warn'>;
  readonly region?: string;
}

export interface ReplayReport {
  readonly runId: string;
  /** Dead-lettered events of the run sent again (collector events without their done tasks). */
  readonly deadLettersRedelivered: number;
  /** Dead-lettered events of the run whose work was done since: dropped, not sent. */
  readonly deadLettersDropped: number;
  /** Recorded batch payloads sent again (undispatched, or failed to continue). */
  readonly batchesRedelivered: number;
  /** Failed (and, if asked, pending) tasks sent in new batches. */
  readonly tasksRetried: number;
  /** The new batches' ids: unique per replay, so no replay overwrites another's outcomes. */
  readonly replayBatchIds: readonly string[];
  /** Raw objects with no parse outcome, sent to the parser again. */
  readonly objectsReparsed: number;
  /** Failed tasks not sent again because they failed for good (`includeFailed` sends them). */
  readonly permanentFailures: readonly string[];
  /** What could not be replayed, and why. */
  readonly skipped: readonly string[];
}

/** Replay batches are numbered from here, clear of any planned batch. */
export const REPLAY_BATCH_BASE = 900_000;

/** Packs tasks into payloads under the byte limit, numbered from `firstBatch`. */
export function packReplayPayloads(
  runId: string,
  scheduledAt: string,
  tasks: CollectorTask[],
  limitBytes: number,
  firstBatch = REPLAY_BATCH_BASE,
): CollectorPayload[] {
  const payloads: CollectorPayload[] = [];
  let current: CollectorTask[] = [];
  const make = (batchTasks: CollectorTask[]): CollectorPayload => ({
    version: 1,
    runId,
    scheduledAt,
    batchId: `b${firstBatch + payloads.length}`,
    hop: 0,
    tasks: batchTasks,
  });
  for (const task of tasks) {
    if (current.length > 0 && payloadSize(make([...current, task])) > limitBytes) {
      payloads.push(make(current));
      current = [];
    }
    current.push(task);
  }
  if (current.length > 0) payloads.push(make(current));
  return payloads;
}

function batchNumber(batchId: string | undefined): number {
  const digits = batchId?.slice(1);
  return digits && /^\d+$/.test(digits) ? Number(digits) : -1;
}

/**
 * The first replay batch number no earlier replay of the run used: above every batch
 * in its results, packs, failures and plan, and in the dead letters still waiting.
 */
export function nextReplayBatch(
  records: RunRecords,
  letters: readonly DeadLetter[] = [],
  sentBefore: readonly string[] = [],
): number {
  const used = [
    ...sentBefore,
    ...(records.manifest?.batches.map((batch) => batch.batchId) ?? []),
    ...records.results.map((result) => result.batchId),
    ...records.failures.map((failure) => failure.batchId),
    ...letters.map((letter) => {
      const payload = check(CollectorPayloadSchema, letter.event);
      return payload.ok ? payload.value.batchId : undefined;
    }),
  ];
  return Math.max(REPLAY_BATCH_BASE, ...used.map((id) => batchNumber(id) + 1));
}

function runOfRawKey(key: string): string | undefined {
  return parsePackKey(key)?.runId ?? parseRawKey(key)?.runId;
}

/** What a dead letter is to the run being replayed. */
type LetterPlan =
  | { readonly action: 'ignore' }
  | { readonly action: 'discard' }
  | { readonly action: 'redeliver'; readonly event: unknown; readonly sourceIds: string[] }
  | { readonly action: 'reparse'; readonly keys: string[] };

function planLetter(
  letter: DeadLetter,
  runId: string,
  records: RunRecords,
  done: (sourceId: string) => boolean,
  newBatch: () => string,
): LetterPlan {
  const payload = check(CollectorPayloadSchema, letter.event);
  if (payload.ok) {
    if (payload.value.runId !== runId) return { action: 'ignore' };
    const resend = withoutDoneTasks(payload.value, done, newBatch);
    if (!resend) return { action: 'discard' };
    return {
      action: 'redeliver',
      event: resend,
      sourceIds: resend.tasks.map((task) => task.source.id),
    };
  }
  let keys: string[] | undefined;
  try {
    keys = parseS3Event(letter.event).objects.map((object) => object.key);
  } catch {
    keys = undefined;
  }
  if (keys) {
    const ours = keys.filter((key) => runOfRawKey(key) === runId);
    if (ours.length === 0) return { action: 'ignore' };
    const waiting = ours.filter((key) => !records.rawOutcomes.has(key));
    return waiting.length === 0 ? { action: 'discard' } : { action: 'reparse', keys: waiting };
  }
  try {
    // A manager event of this run: the manager knows what of it is done.
    if (runOfManagerTrigger(parseManagerEvent(letter.event)) === runId) {
      return { action: 'redeliver', event: letter.event, sourceIds: [] };
    }
  } catch {
    // Not a manager event either: not this run's.
  }
  return { action: 'ignore' };
}

/**
 * A payload to send again without its done tasks, or undefined when all are done.
 * A payload that lost tasks goes out as a new replay batch: under its own id it would
 * overwrite the hop record that holds the outcomes of the tasks it left out.
 */
function withoutDoneTasks(
  payload: CollectorPayload,
  done: (sourceId: string) => boolean,
  newBatch: () => string,
): CollectorPayload | undefined {
  const tasks = payload.tasks.filter((task) => !done(task.source.id));
  if (tasks.length === 0) return undefined;
  if (tasks.length === payload.tasks.length) return payload;
  return { ...payload, batchId: newBatch(), hop: 0, tasks };
}

/** The source ids that have a final outcome other than failed. */
function doneSources(records: RunRecords): (sourceId: string) => boolean {
  const outcomes = finalOutcomes(records.results);
  return (sourceId) => {
    const outcome = outcomes.get(sourceId);
    return outcome !== undefined && outcome.status !== 'failed';
  };
}

/** The run's redispatch records (a silent hop's tasks sent to a new batch), by `<batch>-h<hop>`. */
async function readRedispatches(
  reader: RunRecordReader,
  runId: string,
): Promise<Map<string, Redispatch>> {
  const records = new Map<string, Redispatch>();
  for (const item of await reader.list(redispatchesPrefix(runId))) {
    const text = await reader.getText(item.key);
    if (text === undefined) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      continue;
    }
    const parsed = check(RedispatchSchema, value);
    if (parsed.ok)
      records.set(`${parsed.value.fromBatchId}-h${parsed.value.fromHop}`, parsed.value);
  }
  return records;
}

/** The walk of `walkRun` over a run's listed records (the manager reads the same ones by key). */
function listedHops(
  records: RunRecords,
  redispatches: ReadonlyMap<string, Redispatch>,
): HopRecordReader {
  const results = new Map(records.results.map((r) => [`${r.batchId}-h${r.hop}`, r]));
  const failed = new Set(records.failures.map((f) => `${f.batchId}-h${f.hop ?? 0}`));
  return {
    hop: async ({ batchId, hop }) => {
      const result = results.get(`${batchId}-h${hop}`);
      if (result) return { kind: 'result', result };
      return failed.has(`${batchId}-h${hop}`)
        ? { kind: 'settled', reason: 'failure record' }
        : { kind: 'none' };
    },
    redispatch: async ({ batchId, hop }) => redispatches.get(`${batchId}-h${hop}`),
  };
}

/** Batches a replay may send the run's tasks to, with the tasks each carries. */
interface Planned {
  readonly payload: CollectorPayload;
  /** The silent hop this batch takes over, claimed before it is sent. */
  readonly claims?: SilentHop;
}

/**
 * A task for a source as the run would have sent it: with the validators of the state
 * the run was planned with (unless the source was edited since), so a source that did
 * not change since the run before answers 304 and stores nothing twice.
 */
function replayTask(source: Source, manifest: RunManifest): CollectorTask {
  const state = manifest.state?.sources[source.id];
  return {
    source,
    ...carriedToTask(stateForDefinition(state, sourceDefinition(source))),
    estimateMs: 0,
  };
}

/** Whether the source was edited since the run was planned (when the run recorded it). */
function editedSince(source: Source, manifest: RunManifest): boolean {
  const then = manifest.state?.sources[source.id]?.definition;
  return then !== undefined && then !== sourceDefinition(source);
}

/** Adds the replay to the off-schedule log, so the next run merges what its batches bring. */
async function logReplay(
  runId: string,
  batchIds: readonly string[],
  deps: ReplayDeps,
): Promise<void> {
  const key = offScheduleLogKey();
  const text = await deps.reader.getText(key);
  const { log } =
    text === undefined ? { log: { version: 1 as const, entries: [] } } : parseOffScheduleLog(text);
  const at = new Date((deps.now ?? Date.now)()).toISOString();
  await deps.writer.putJson(
    key,
    withOffScheduleEntry(log, { kind: 'replay', runId, at, batchIds: [...batchIds] }),
  );
}

/** Batch ids earlier replays of the run logged (some may never have reported). */
async function loggedBatchIds(runId: string, reader: RunRecordReader): Promise<string[]> {
  const text = await reader.getText(offScheduleLogKey());
  if (text === undefined) return [];
  return parseOffScheduleLog(text)
    .log.entries.filter((entry) => entry.runId === runId)
    .flatMap((entry) => entry.batchIds ?? []);
}

/**
 * Re-delivers the work of a run that did not succeed, and only that: its dead
 * letters without the tasks done since, its recorded batch failures (payloads as
 * they were, without done tasks), its failed tasks (in new batches with ids no
 * earlier replay used, built from the source manifest, leaving out permanent failures
 * unless asked), with `includePending` the tasks of hops that never reported, and its
 * raw objects that have no parse outcome. Work that is done is not sent again, so a
 * second replay of a run the first one completed sends nothing.
 *
 * What a replay sends is the run's record for every reader: each silent hop it takes
 * over is claimed first (a redispatch record, written only if absent, which the manager
 * also writes before it sends a hop again: one of them sends it), and its new batches
 * are logged in the off-schedule log, so the next run merges their outcomes (validators,
 * durations) instead of fetching those sources again.
 */
export async function replayRun(runId: string, deps: ReplayDeps): Promise<ReplayReport> {
  let records = await deps.reader.records(runId);
  const skipped: string[] = [];
  const sentSources = new Set<string>();
  const sentKeys = new Set<string>();
  /** Batches outside the plan that this replay sends: logged for the next run. */
  const newBatchIds: string[] = [];
  const sentBefore = [
    ...(await loggedBatchIds(runId, deps.reader)),
    ...[...(await readRedispatches(deps.reader, runId)).values()].map((r) => r.batchId),
  ];

  // Dead letters first: their work may complete the run before anything is sent twice.
  let deadLettersRedelivered = 0;
  let deadLettersDropped = 0;
  const letters = (await deps.deadLetters?.list()) ?? [];
  let nextBatch = nextReplayBatch(records, letters, sentBefore);
  const newBatch = () => {
    const id = `b${nextBatch++}`;
    newBatchIds.push(id);
    return id;
  };
  const done = doneSources(records);
  const redeliveries: { letter: DeadLetter; event: unknown }[] = [];
  for (const letter of letters) {
    const plan = planLetter(letter, runId, records, done, newBatch);
    if (plan.action === 'ignore') continue;
    if (plan.action === 'discard') {
      await deps.deadLetters?.discard(letter);
      deadLettersDropped += 1;
      continue;
    }
    if (plan.action === 'redeliver') {
      redeliveries.push({ letter, event: plan.event });
      for (const id of plan.sourceIds) sentSources.add(id);
    } else {
      redeliveries.push({ letter, event: letter.event });
      for (const key of plan.keys) sentKeys.add(key);
    }
  }
  if (newBatchIds.length > 0) await logReplay(runId, newBatchIds, deps);
  for (const { letter, event } of redeliveries) await deps.deadLetters?.redeliver(letter, event);
  deadLettersRedelivered = redeliveries.length;
  if (deadLettersRedelivered > 0 && deps.settle) {
    await deps.settle();
    records = await deps.reader.records(runId);
    nextBatch = Math.max(nextBatch, nextReplayBatch(records, [], sentBefore));
  }

  const report = (fields: Partial<ReplayReport>): ReplayReport => ({
    runId,
    deadLettersRedelivered,
    deadLettersDropped,
    batchesRedelivered: 0,
    tasksRetried: 0,
    replayBatchIds: [],
    objectsReparsed: 0,
    permanentFailures: [],
    skipped,
    ...fields,
  });
  const manifest = records.manifest;
  if (!manifest) {
    skipped.push(`run ${runId} has no run manifest`);
    return report({});
  }
  const isDone = doneSources(records);
  const outcomes = finalOutcomes(records.results);

  // Recorded batch payloads: sent as they were, without the tasks done since.
  const redelivered: CollectorPayload[] = [];
  /** Sources of failure records whose stored payload was redacted: rebuilt from the manifest. */
  const rebuild = new Set<string>();
  for (const failure of records.failures) {
    if (failure.payloadRedacted) {
      for (const id of failure.sourceIds) if (!isDone(id)) rebuild.add(id);
      continue;
    }
    const parsed = check(CollectorPayloadSchema, failure.payload);
    if (!parsed.ok) {
      skipped.push(
        `${failure.kind} ${failure.batchId ?? ''}: payload cannot be replayed (${parsed.issues[0]})`,
      );
      continue;
    }
    const resend = withoutDoneTasks(
      parsed.value,
      (id) => isDone(id) || sentSources.has(id),
      newBatch,
    );
    if (!resend) continue;
    redelivered.push(resend);
    for (const task of resend.tasks) sentSources.add(task.source.id);
  }

  // Tasks to build from the source manifest: failed ones, and (asked) those of silent hops.
  const silent = deps.includePending
    ? (
        await walkRun(manifest, listedHops(records, await readRedispatches(deps.reader, runId)), {
          extraBatchIds: [
            ...new Set(
              records.results.map((r) => r.batchId).filter((id) => !isPlanned(manifest, id)),
            ),
          ],
          followRedispatches: true,
          maxHops: MAX_HOPS_WALKED,
          concurrency: 16,
        })
      ).silent
    : [];
  const pendingIds = new Set(silent.flatMap((hop) => hop.sourceIds));
  const failedIds = manifest.batches
    .flatMap((batch) => batch.sourceIds)
    .filter((id) => !sentSources.has(id) && !pendingIds.has(id))
    .filter((id) => rebuild.has(id) || outcomes.get(id)?.status === 'failed');
  const sources = await currentSources(failedIds.length + pendingIds.size > 0, deps);
  const limit = Math.floor((deps.payloadLimitBytes ?? topology.payloadLimitBytes) * 0.9);
  const permanentFailures: string[] = [];
  const tasksOf = (ids: readonly string[]): CollectorTask[] =>
    ids.flatMap((id) => {
      const source = sources.get(id);
      if (source) return [replayTask(source, manifest)];
      skipped.push(`${id}: no longer in the source manifest`);
      return [];
    });
  const planned: Planned[] = [];
  const pack = (tasks: CollectorTask[], claims?: SilentHop) => {
    const payloads = packReplayPayloads(runId, manifest.scheduledAt, tasks, limit, nextBatch);
    payloads.forEach((payload, index) => {
      nextBatch += 1;
      newBatchIds.push(payload.batchId);
      // A hop is claimed by its first batch; the log names them all.
      planned.push({ payload, ...(claims && index === 0 ? { claims } : {}) });
    });
  };
  for (const hop of silent) {
    const ids = hop.sourceIds.filter((id) => !sentSources.has(id));
    const tasks = tasksOf(ids);
    if (tasks.length > 0) pack(tasks, { ...hop, sourceIds: tasks.map((t) => t.source.id) });
  }
  const retry = failedIds.filter((id) => {
    const outcome = outcomes.get(id);
    if (deps.includeFailed || !outcome || !isPermanentFailure(outcome)) return true;
    const source = sources.get(id);
    if (source && editedSince(source, manifest)) return true;
    permanentFailures.push(
      `${id}: ${outcome.status === 'failed' ? outcome.reason : 'failed'} (permanent; --include-failed sends it again)`,
    );
    return false;
  });
  pack(tasksOf(retry));

  // Claims first: a hop the manager (or another replay) sent again meanwhile is theirs.
  const toSend: CollectorPayload[] = [];
  for (const { payload, claims } of planned) {
    if (claims && !(await claimHop(runId, claims, payload.batchId, deps))) {
      skipped.push(
        `${claims.batchId} hop ${claims.hop}: sent again by the manager or another replay meanwhile`,
      );
      continue;
    }
    toSend.push(payload);
  }
  const replayed = new Set(toSend.map((p) => p.batchId));
  const logged = newBatchIds.filter(
    (id) => replayed.has(id) || redelivered.some((p) => p.batchId === id),
  );
  if (logged.length > 0) await logReplay(runId, logged, deps);
  for (const payload of redelivered) await deps.invoke(deps.functions.collector, payload);
  for (const payload of toSend) await deps.invoke(deps.functions.collector, payload);

  const unparsed = referencedRawKeys(records.results).filter(
    (key) => !records.rawOutcomes.has(key) && !sentKeys.has(key),
  );
  for (const key of unparsed) {
    await deps.invoke(deps.functions.parser, reparseEvent(deps.bucket, key, deps.region));
  }
  if (deps.settle) await deps.settle();

  const result = report({
    batchesRedelivered: redelivered.length,
    tasksRetried: toSend.reduce((n, p) => n + p.tasks.length, 0),
    replayBatchIds: toSend.map((p) => p.batchId),
    objectsReparsed: unparsed.length,
    permanentFailures,
  });
  deps.log?.info('replayed run', {
    ...result,
    skipped: skipped.length,
    permanentFailures: permanentFailures.length,
  });
  return result;
}

/** Hops a replay follows per batch (the collector's limit is 5). */
const MAX_HOPS_WALKED = 20;

function isPlanned(manifest: RunManifest, batchId: string): boolean {
  return manifest.batches.some((batch) => batch.batchId === batchId);
}

async function currentSources(needed: boolean, deps: ReplayDeps): Promise<Map<string, Source>> {
  if (!needed) return new Map();
  const text = await deps.reader.getText(topology.manifestKey);
  return new Map(text ? parseManifestText(text).sources.map((s) => [s.id, s]) : []);
}

/** Claims a silent hop for a replay batch: false when someone else already sent it again. */
async function claimHop(
  runId: string,
  hop: SilentHop,
  batchId: string,
  deps: ReplayDeps,
): Promise<boolean> {
  const record: Redispatch = {
    runId,
    fromBatchId: hop.batchId,
    fromHop: hop.hop,
    batchId,
    sourceIds: [...hop.sourceIds],
    dispatchedAt: new Date((deps.now ?? Date.now)()).toISOString(),
  };
  return deps.writer.putJsonIfAbsent(redispatchKey(runId, hop.batchId, hop.hop), record);
}

/**
 * An S3 ObjectCreated event for an existing object, as S3 would have sent it; with
 * `definitions`, how to parse each source's pages now (`fanout reparse`).
 */
export function reparseEvent(
  bucket: string,
  key: string,
  region = 'us-east-1',
  size = 0,
  definitions?: Readonly<Record<string, ParseDefinition>>,
) {
  const record = buildS3EventRecord(
    {
      bucket,
      key,
      eventName: 'ObjectCreated:Put',
      size,
      eventTime: new Date().toISOString(),
      sourceIPAddress: '127.0.0.1',
      requestId: randomUUID(),
      hostId: 'fanout-reparse',
    },
    { region, configurationId: 'fanout-reparse', sequencer: Date.now().toString(16).toUpperCase() },
  );
  return {
    Records: [record],
    ...(definitions && Object.keys(definitions).length > 0 ? { fanout: { definitions } } : {}),
  };
}

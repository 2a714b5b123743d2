import { randomUUID } from 'node:crypto';
import { buildS3EventRecord } from '@fanout/local-s3';
import {
  type CollectorPayload,
  CollectorPayloadSchema,
  type CollectorTask,
  check,
  finalOutcomes,
  type Log,
  parseManagerEvent,
  parseManifestText,
  parsePackKey,
  parseRawKey,
  parseS3Event,
  payloadSize,
  type RunRecords,
  runOfManagerTrigger,
  type Source,
  topology,
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

export interface ReplayDeps {
  readonly reader: RunRecordReader;
  readonly bucket: string;
  readonly invoke: InvokeAsync;
  readonly functions: { readonly collector: string; readonly parser: string };
  readonly payloadLimitBytes?: number;
  /** Also re-run tasks that have no outcome yet (only for a run that has stopped). */
  readonly includePending?: boolean;
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
export function nextReplayBatch(records: RunRecords, letters: readonly DeadLetter[] = []): number {
  const used = [
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

/**
 * Re-delivers the work of a run that did not succeed, and only that: its dead
 * letters without the tasks done since, its recorded batch failures (payloads as
 * they were, without done tasks), its failed tasks (in new batches with ids no
 * earlier replay used, built from the source manifest), and its raw objects that
 * have no parse outcome. Work that is done is not sent again, so a second replay
 * of a run the first one completed sends nothing.
 */
export async function replayRun(runId: string, deps: ReplayDeps): Promise<ReplayReport> {
  let records = await deps.reader.records(runId);
  const skipped: string[] = [];
  const sentSources = new Set<string>();
  const sentKeys = new Set<string>();

  // Dead letters first: their work may complete the run before anything is sent twice.
  let deadLettersRedelivered = 0;
  let deadLettersDropped = 0;
  const letters = (await deps.deadLetters?.list()) ?? [];
  let nextBatch = nextReplayBatch(records, letters);
  const newBatch = () => `b${nextBatch++}`;
  const done = doneSources(records);
  for (const letter of letters) {
    const plan = planLetter(letter, runId, records, done, newBatch);
    if (plan.action === 'ignore') continue;
    if (plan.action === 'discard') {
      await deps.deadLetters?.discard(letter);
      deadLettersDropped += 1;
      continue;
    }
    if (plan.action === 'redeliver') {
      await deps.deadLetters?.redeliver(letter, plan.event);
      for (const id of plan.sourceIds) sentSources.add(id);
    } else {
      await deps.deadLetters?.redeliver(letter, letter.event);
      for (const key of plan.keys) sentKeys.add(key);
    }
    deadLettersRedelivered += 1;
  }
  if (deadLettersRedelivered > 0 && deps.settle) {
    await deps.settle();
    records = await deps.reader.records(runId);
    nextBatch = Math.max(nextBatch, nextReplayBatch(records));
  }

  if (!records.manifest) {
    skipped.push(`run ${runId} has no run manifest`);
    return {
      runId,
      deadLettersRedelivered,
      deadLettersDropped,
      batchesRedelivered: 0,
      tasksRetried: 0,
      replayBatchIds: [],
      objectsReparsed: 0,
      skipped,
    };
  }
  const isDone = doneSources(records);
  const outcomes = finalOutcomes(records.results);

  let batchesRedelivered = 0;
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
    await deps.invoke(deps.functions.collector, resend);
    for (const task of resend.tasks) sentSources.add(task.source.id);
    batchesRedelivered += 1;
  }

  const planned = records.manifest.batches.flatMap((batch) => batch.sourceIds);
  const retry = planned.filter((sourceId) => {
    if (sentSources.has(sourceId)) return false;
    if (rebuild.has(sourceId)) return true;
    const outcome = outcomes.get(sourceId);
    if (outcome) return outcome.status === 'failed';
    return deps.includePending === true;
  });
  let tasksRetried = 0;
  let replayBatchIds: string[] = [];
  if (retry.length > 0) {
    const manifestText = await deps.reader.getText(topology.manifestKey);
    const sources = new Map<string, Source>(
      manifestText ? parseManifestText(manifestText).sources.map((s) => [s.id, s]) : [],
    );
    const tasks: CollectorTask[] = [];
    for (const sourceId of retry) {
      const source = sources.get(sourceId);
      if (source) tasks.push({ source, estimateMs: 0 });
      else skipped.push(`${sourceId}: no longer in the source manifest`);
    }
    const payloads = packReplayPayloads(
      runId,
      records.manifest.scheduledAt,
      tasks,
      Math.floor((deps.payloadLimitBytes ?? topology.payloadLimitBytes) * 0.9),
      nextBatch,
    );
    nextBatch += payloads.length;
    for (const payload of payloads) await deps.invoke(deps.functions.collector, payload);
    tasksRetried = tasks.length;
    replayBatchIds = payloads.map((payload) => payload.batchId);
  }

  const unparsed = referencedRawKeys(records.results).filter(
    (key) => !records.rawOutcomes.has(key) && !sentKeys.has(key),
  );
  for (const key of unparsed) {
    await deps.invoke(deps.functions.parser, reparseEvent(deps.bucket, key, deps.region));
  }
  if (deps.settle) await deps.settle();

  const report = {
    runId,
    deadLettersRedelivered,
    deadLettersDropped,
    batchesRedelivered,
    tasksRetried,
    replayBatchIds,
    objectsReparsed: unparsed.length,
    skipped,
  };
  deps.log?.info('replayed run', { ...report, skipped: skipped.length });
  return report;
}

/** An S3 ObjectCreated event for an existing object, as S3 would have sent it. */
export function reparseEvent(bucket: string, key: string, region = 'us-east-1', size = 0) {
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
  return { Records: [record] };
}

import { randomUUID } from 'node:crypto';
import {
  type CollectorPayload,
  CollectorPayloadSchema,
  type CollectorTask,
  check,
  finalOutcomes,
  type Log,
  parseManifestText,
  payloadSize,
  type Source,
  topology,
} from '@fanout/shared';
import type { RunRecordReader } from './run-records.js';
import { buildS3EventRecord } from './s3/index.js';

/** Sends one asynchronous event to a function (local endpoint or AWS). */
export type InvokeAsync = (functionName: string, payload: unknown) => Promise<void>;

export interface ReplayDeps {
  readonly reader: RunRecordReader;
  readonly bucket: string;
  readonly invoke: InvokeAsync;
  readonly functions: { readonly collector: string; readonly parser: string };
  readonly payloadLimitBytes?: number;
  /** Also re-run tasks that have no outcome yet (only for a run that has stopped). */
  readonly includePending?: boolean;
  readonly log?: Pick<Log, 'info' | 'warn'>;
  readonly region?: string;
}

export interface ReplayReport {
  readonly runId: string;
  /** Recorded batch payloads sent again (undispatched, or failed to continue). */
  readonly batchesRedelivered: number;
  /** Failed (and, if asked, pending) tasks sent in new batches. */
  readonly tasksRetried: number;
  /** Raw objects with no parse outcome, sent to the parser again. */
  readonly objectsReparsed: number;
  /** What could not be replayed, and why. */
  readonly skipped: readonly string[];
}

/** Replay batches are numbered from here, clear of any planned batch. */
const REPLAY_BATCH_BASE = 900_000;

/** Packs tasks into payloads under the byte limit. */
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

/**
 * Re-delivers the work of a run that did not succeed: recorded batch failures
 * (their payloads as they were), failed tasks (as new batches built from the
 * source manifest), and raw objects that have no parse outcome. Keys are
 * deterministic, so replaying work that did in fact finish overwrites, never
 * duplicates.
 */
export async function replayRun(runId: string, deps: ReplayDeps): Promise<ReplayReport> {
  const records = await deps.reader.records(runId);
  const skipped: string[] = [];
  if (!records.manifest) {
    return {
      runId,
      batchesRedelivered: 0,
      tasksRetried: 0,
      objectsReparsed: 0,
      skipped: [`run ${runId} has no run manifest`],
    };
  }
  const outcomes = finalOutcomes(records.results);
  const done = (sourceId: string) => {
    const outcome = outcomes.get(sourceId);
    return outcome !== undefined && outcome.status !== 'failed';
  };

  let batchesRedelivered = 0;
  const redelivered = new Set<string>();
  for (const failure of records.failures) {
    const parsed = check(CollectorPayloadSchema, failure.payload);
    if (!parsed.ok) {
      skipped.push(
        `${failure.kind} ${failure.batchId ?? ''}: payload cannot be replayed (${parsed.issues[0]})`,
      );
      continue;
    }
    const tasks = parsed.value.tasks.filter((task) => !done(task.source.id));
    if (tasks.length === 0) continue;
    await deps.invoke(deps.functions.collector, { ...parsed.value, tasks });
    for (const task of tasks) redelivered.add(task.source.id);
    batchesRedelivered += 1;
  }

  const planned = records.manifest.batches.flatMap((batch) => batch.sourceIds);
  const retry = planned.filter((sourceId) => {
    if (redelivered.has(sourceId)) return false;
    const outcome = outcomes.get(sourceId);
    if (outcome) return outcome.status === 'failed';
    return deps.includePending === true;
  });
  let tasksRetried = 0;
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
    );
    for (const payload of payloads) await deps.invoke(deps.functions.collector, payload);
    tasksRetried = tasks.length;
  }

  const parsedKeys = new Set(records.parses.map((parse) => parse.rawKey));
  const unparsed = [...outcomes.values()].flatMap((outcome) =>
    outcome.status === 'ok' ? outcome.rawKeys.filter((key) => !parsedKeys.has(key)) : [],
  );
  for (const key of unparsed)
    await deps.invoke(deps.functions.parser, reparseEvent(deps.bucket, key, deps.region));

  deps.log?.info('replayed run', {
    runId,
    batchesRedelivered,
    tasksRetried,
    objectsReparsed: unparsed.length,
  });
  return { runId, batchesRedelivered, tasksRetried, objectsReparsed: unparsed.length, skipped };
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

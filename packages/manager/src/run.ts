import {
  ContractValidationError,
  type DispatchPartEvent,
  type InvalidSource,
  type ManagerTrigger,
  type ManifestParseResult,
  type OffScheduleLog,
  offScheduleLogKey,
  parseManifestText,
  type RunManifest,
  runManifestKey,
  type Source,
  type StateSnapshot,
  sourceDefinition,
  withOffScheduleEntry,
} from '@fanout/shared';
import { splitByCadence } from './cadence.js';
import type { ManagerConfig } from './config.js';
import {
  type DispatchDeps,
  type DispatchReport,
  type DispatchSettings,
  dispatchBatches,
  forEachBounded,
  invokeWithRetry,
  type PreparedBatch,
} from './dispatch.js';
import { UnknownRunError } from './errors.js';
import { buildPayload, planBatches, type RejectedSource, taskFor } from './plan.js';
import { findPreviousState, type LookbackAnchor } from './previous-run.js';
import { type RecordStateSources, recordStateSources } from './record-state.js';
import { readRunManifest, type StalledHop, settledBatchIds } from './records.js';
import { redispatchStalled } from './redispatch.js';
import { mergePendingRuns, readLegacySnapshot, snapshotAfterPlanning } from './state.js';
import { getText, putJson, putJsonIfAbsent } from './storage.js';

export interface ManagerDeps extends DispatchDeps {
  readonly config: ManagerConfig;
}

export type RunOutcome =
  /** Planned and handed every batch to a collector or a dispatch part. */
  | 'dispatched'
  /** A retry of the invocation that planned the run: batches with no record yet were dispatched. */
  | 'continued'
  /** The run was planned by another invocation (another delivery): nothing new done. */
  | 'duplicate'
  /** The run failed as a whole (e.g. the source manifest is not valid JSON). */
  | 'failed'
  /** A dispatch part of a two-level fan-out. */
  | 'part';

export interface RunSummary {
  readonly runId: string;
  readonly outcome: RunOutcome;
  readonly reason?: string;
  /** Batches in the run's plan. */
  readonly batches: number;
  /** Valid sources planned. */
  readonly tasks: number;
  /** Valid sources left out because their cadence is not due at the run's scheduled time. */
  readonly notDue: number;
  readonly invalidSources: number;
  /** Batches this invocation handed to collectors. */
  readonly dispatched: number;
  /** Batches this invocation recorded as dispatch-failed. */
  readonly failed: number;
  /** Dispatch parts handed to copies of the manager. */
  readonly parts: number;
  /** Stalled batch hops of earlier runs sent again as new batches. */
  readonly redispatched: number;
}

function isoNow(deps: ManagerDeps): string {
  return new Date(deps.clock.now()).toISOString();
}

function summary(
  runId: string,
  outcome: RunOutcome,
  fields: Partial<Omit<RunSummary, 'runId' | 'outcome'>> = {},
): RunSummary {
  return {
    runId,
    outcome,
    batches: 0,
    tasks: 0,
    notDue: 0,
    invalidSources: 0,
    dispatched: 0,
    failed: 0,
    parts: 0,
    redispatched: 0,
    ...fields,
  };
}

/** How the manager invokes collectors: function, invocation type, concurrency, retries. */
export function dispatchSettings(config: ManagerConfig): DispatchSettings {
  return {
    collectorFunction: config.collectorFunction,
    invocationType: config.invocationType,
    concurrency: config.dispatchConcurrency,
    payloadLimitBytes: config.payloadLimitBytes,
    retry: {
      maxAttempts: config.dispatchMaxAttempts,
      baseDelayMs: config.dispatchBaseDelayMs,
      maxDelayMs: config.dispatchMaxDelayMs,
    },
  };
}

type ManifestRead = { ok: true; parsed: ManifestParseResult } | { ok: false; reason: string };

async function readSourceManifest(deps: ManagerDeps): Promise<ManifestRead> {
  const { bucket, manifestKey } = deps.config;
  const text = await getText(deps.store, manifestKey);
  if (text === undefined) {
    return { ok: false, reason: `source manifest s3://${bucket}/${manifestKey} does not exist` };
  }
  try {
    // With the stack's schedule, a source whose cadence is finer than it is an invalid entry.
    return { ok: true, parsed: parseManifestText(text, { schedule: deps.config.schedule }) };
  } catch (error) {
    if (error instanceof ContractValidationError) {
      return { ok: false, reason: `s3://${bucket}/${manifestKey}: ${error.message}` };
    }
    throw error;
  }
}

/** Manifest positions of the valid sources: the entries that are not invalid, in order. */
function validSourceIndexes(parsed: ManifestParseResult): Map<string, number> {
  const invalid = new Set(parsed.invalid.map((entry) => entry.index));
  const indexes = new Map<string, number>();
  let index = 0;
  for (const source of parsed.sources) {
    while (invalid.has(index)) index += 1;
    indexes.set(source.id, index);
    index += 1;
  }
  return indexes;
}

/** Index -1 marks a source the manual trigger named that the manifest does not have. */
export const NOT_IN_MANIFEST_INDEX = -1;

type InvalidEntry = RunManifest['invalidSources'][number];

function asEntry(entry: InvalidSource): InvalidEntry {
  return { index: entry.index, ...(entry.id ? { id: entry.id } : {}), errors: [...entry.errors] };
}

/**
 * The sources a run covers and the invalid entries it reports. A manual trigger
 * that names sources reports only the invalid entries it named.
 */
function selectSources(
  parsed: ManifestParseResult,
  only: readonly string[] | undefined,
): { sources: Source[]; invalid: InvalidEntry[] } {
  if (!only) return { sources: parsed.sources, invalid: parsed.invalid.map(asEntry) };
  const wanted = new Set(only);
  const known = new Set(parsed.sources.map((source) => source.id));
  const invalidIds = new Set(parsed.invalid.flatMap((entry) => (entry.id ? [entry.id] : [])));
  const unknown = [...wanted]
    .filter((id) => !known.has(id) && !invalidIds.has(id))
    .map((id) => ({
      index: NOT_IN_MANIFEST_INDEX,
      id,
      errors: [
        `sources: ${JSON.stringify(id)} is named by the manual trigger but not in the manifest`,
      ],
    }));
  return {
    sources: parsed.sources.filter((source) => wanted.has(source.id)),
    invalid: [
      ...parsed.invalid.filter((entry) => entry.id && wanted.has(entry.id)).map(asEntry),
      ...unknown,
    ],
  };
}

function rejectedAsInvalid(
  rejected: readonly RejectedSource[],
  indexes: Map<string, number>,
): InvalidEntry[] {
  return rejected.map((entry) => {
    const index = indexes.get(entry.sourceId) ?? NOT_IN_MANIFEST_INDEX;
    return { index, id: entry.sourceId, errors: [`sources[${index}]: ${entry.reason}`] };
  });
}

type RunTrigger = Extract<ManagerTrigger, { kind: 'schedule' | 'manual' }>;

/** A failed run still carries the state forward, so the next run does not lose it. */
async function failRun(
  trigger: RunTrigger,
  scheduledAt: string,
  reason: string,
  invocation: Invocation,
  state: StateSnapshot,
  deps: ManagerDeps,
): Promise<RunSummary> {
  const now = isoNow(deps);
  const manifest: RunManifest = {
    runId: trigger.runId,
    scheduledAt,
    trigger: trigger.kind,
    status: 'failed',
    reason,
    plannedBy: invocation.requestId,
    sourceCount: 0,
    batches: [],
    invalidSources: [],
    createdAt: now,
    updatedAt: now,
    state: { ...state, updatedAt: now },
  };
  const written = await putJsonIfAbsent(deps.store, runManifestKey(trigger.runId), manifest);
  if (!written) return summary(trigger.runId, 'duplicate');
  deps.log.error('run failed', { runId: trigger.runId, reason });
  return summary(trigger.runId, 'failed', { reason });
}

/** Rebuilds payloads of planned batches from the source manifest and the state. */
export function prepareFromPlan(
  run: RunManifest,
  batchIds: readonly string[],
  sources: ReadonlyMap<string, Source>,
  snapshot: StateSnapshot,
  defaultEstimateMs: number,
): PreparedBatch[] {
  const planned = new Map(run.batches.map((batch) => [batch.batchId, batch]));
  return batchIds.map((batchId) => {
    const batch = planned.get(batchId);
    if (!batch) throw new UnknownRunError(run.runId, `has no batch ${batchId}`);
    const tasks = [];
    const missing = [];
    for (const sourceId of batch.sourceIds) {
      const source = sources.get(sourceId);
      if (source) tasks.push(taskFor(source, snapshot.sources[sourceId], defaultEstimateMs));
      else missing.push({ sourceId, reason: 'no longer a valid entry of the source manifest' });
    }
    const payload =
      tasks.length > 0 ? buildPayload(run.runId, run.scheduledAt, batchId, tasks) : undefined;
    return { batchId, payload, missing };
  });
}

/**
 * Hands batches out. Up to `maxBatchesPerManager` this invocation dispatches them;
 * beyond that it keeps the first slice and invokes copies of itself (Event) on
 * the others, each dispatching its slice within its own timeout. A part that
 * cannot be handed off is dispatched here instead, so no batch is stranded.
 */
async function handOut(
  run: RunManifest,
  batches: readonly PreparedBatch[],
  deps: ManagerDeps,
): Promise<DispatchReport & { parts: number }> {
  const { config } = deps;
  const slice = config.maxBatchesPerManager;
  const settings = dispatchSettings(config);
  if (batches.length <= slice || !config.managerFunction) {
    if (batches.length > slice) {
      deps.log.warn('no manager function name set; dispatching every batch here', {
        runId: run.runId,
        batches: batches.length,
      });
    }
    return { ...(await dispatchBatches(run.runId, batches, settings, deps)), parts: 0 };
  }
  const managerFunction = config.managerFunction;
  const slices: PreparedBatch[][] = [];
  for (let i = 0; i < batches.length; i += slice) slices.push(batches.slice(i, i + slice));
  const [own = [], ...others] = slices;
  const local: PreparedBatch[] = [...own];
  let parts = 0;
  await forEachBounded(
    others.map((part, i) => ({ part, index: i + 1 })),
    config.dispatchConcurrency,
    async ({ part, index }) => {
      const event: DispatchPartEvent = {
        type: 'fanout.dispatch',
        runId: run.runId,
        batchIds: part.map((batch) => batch.batchId),
        part: index,
      };
      const result = await invokeWithRetry(managerFunction, 'Event', event, settings.retry, deps, {
        runId: run.runId,
        part: index,
      });
      if (result.ok) {
        parts += 1;
        deps.log.info('dispatch part handed off', {
          runId: run.runId,
          part: index,
          batches: part.length,
        });
      } else {
        deps.log.warn('dispatch part not handed off; dispatching it here', {
          runId: run.runId,
          part: index,
          reason: result.reason,
        });
        local.push(...part);
      }
    },
  );
  const report = await dispatchBatches(run.runId, local, settings, deps);
  return { ...report, parts };
}

/**
 * A retry of the invocation that planned the run: dispatches the batches that have
 * no record yet (HEADs of their hop-0 keys, no LIST). Writes nothing unless a batch
 * cannot be dispatched.
 */
async function continueRun(run: RunManifest, deps: ManagerDeps): Promise<RunSummary> {
  const log = { runId: run.runId };
  const batchIds = run.batches.map((b) => b.batchId);
  const settled = await settledBatchIds(deps.store, run, batchIds);
  const remaining = batchIds.filter((id) => !settled.has(id));
  deps.log.info('continuing a planned run', {
    ...log,
    batches: run.batches.length,
    remaining: remaining.length,
  });
  const fields = {
    batches: run.batches.length,
    tasks: run.sourceCount - run.invalidSources.length,
    notDue: run.notDueSourceIds?.length ?? 0,
    invalidSources: run.invalidSources.length,
  };
  let report: DispatchReport & { parts: number } = { dispatched: [], failures: [], parts: 0 };
  if (remaining.length > 0) {
    const prepared = await prepareStored(run, remaining, deps);
    report = await handOut(run, prepared, deps);
  }
  return summary(run.runId, 'continued', {
    ...fields,
    dispatched: report.dispatched.length,
    failed: report.failures.length,
    parts: report.parts,
  });
}

/**
 * Payloads for batches of a stored plan: from the current source manifest and the
 * state the run was planned with (in its manifest; `state/sources.json` for a run
 * planned by an earlier version).
 */
async function prepareStored(
  run: RunManifest,
  batchIds: readonly string[],
  deps: ManagerDeps,
): Promise<PreparedBatch[]> {
  const read = await readSourceManifest(deps);
  if (!read.ok) {
    return batchIds.map((batchId) => {
      const batch = run.batches.find((b) => b.batchId === batchId);
      if (!batch) throw new UnknownRunError(run.runId, `has no batch ${batchId}`);
      return {
        batchId,
        payload: undefined,
        missing: batch.sourceIds.map((sourceId) => ({ sourceId, reason: read.reason })),
      };
    });
  }
  const snapshot = run.state ?? (await readLegacySnapshot(deps.store, deps.log));
  const sources = new Map(read.parsed.sources.map((source) => [source.id, source]));
  return prepareFromPlan(run, batchIds, sources, snapshot, deps.config.defaultEstimateMs);
}

/** The invocation at work: a Lambda retry of an async invocation keeps its request id. */
export interface Invocation {
  readonly requestId: string;
}

function lookbackAnchor(
  trigger: RunTrigger,
  scheduledAt: string,
  deps: ManagerDeps,
): LookbackAnchor {
  return trigger.kind === 'schedule'
    ? { at: new Date(scheduledAt), isFireTime: true }
    : { at: new Date(deps.clock.now()), isFireTime: false };
}

/**
 * The state the run starts from (the previous scheduled run's, or a newer manual run's)
 * with every pending run's outcomes merged in, the hops of those runs that will never
 * report on their own, and the off-schedule log as read.
 */
async function startingState(
  trigger: RunTrigger,
  scheduledAt: string,
  recordState: RecordStateSources,
  deps: ManagerDeps,
): Promise<{ snapshot: StateSnapshot; stalled: StalledHop[]; offSchedule: OffScheduleLog }> {
  const { config } = deps;
  const previous = await findPreviousState(
    deps.store,
    lookbackAnchor(trigger, scheduledAt, deps),
    trigger.runId,
    config,
    deps.log,
  );
  deps.log.info('starting state found', {
    runId: trigger.runId,
    from: previous.from,
    previousRunId: previous.previousRunId,
    pendingRuns: previous.snapshot.pendingRuns ?? [],
  });
  const readManifest = async (runId: string) =>
    previous.manifests.get(runId) ?? (await readRunManifest(deps.store, runId)).manifest;
  const merged = await mergePendingRuns(
    deps.store,
    previous.snapshot,
    trigger.runId,
    readManifest,
    { ...config, now: deps.clock.now(), replayBatches: previous.replayBatches, recordState },
    deps.log,
  );
  return { ...merged, offSchedule: previous.offSchedule };
}

/**
 * A manual run's id is not a fire time, so the next run finds it in the off-schedule log:
 * one GET-modify-PUT here, none in a scheduled cycle. A failed write costs the next run
 * this run's validators (a full fetch of what it collected), so it is logged, not thrown.
 */
async function logManualRun(
  run: RunManifest,
  offSchedule: OffScheduleLog,
  deps: ManagerDeps,
): Promise<void> {
  const entry = { kind: 'manual' as const, runId: run.runId, at: run.createdAt };
  try {
    await putJson(deps.store, offScheduleLogKey(), withOffScheduleEntry(offSchedule, entry));
  } catch (error) {
    deps.log.warn('manual run not logged; the next run will not merge its outcomes', {
      runId: run.runId,
      key: offScheduleLogKey(),
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

async function planRun(
  trigger: RunTrigger,
  invocation: Invocation,
  deps: ManagerDeps,
): Promise<RunSummary> {
  const { config } = deps;
  const runId = trigger.runId;
  const scheduledAt = trigger.scheduledAt ?? isoNow(deps);
  // The source manifest first: which sources' parses leave state (emit, cursor) decides
  // what the merge reads. A manifest that cannot be read still lets the state be carried on.
  const read = await readSourceManifest(deps);
  const { snapshot, stalled, offSchedule } = await startingState(
    trigger,
    scheduledAt,
    recordStateSources(read.ok ? read.parsed.sources : []),
    deps,
  );
  if (!read.ok) return failRun(trigger, scheduledAt, read.reason, invocation, snapshot, deps);
  const { parsed } = read;
  const selected = selectSources(parsed, trigger.kind === 'manual' ? trigger.sources : undefined);
  // A manual run collects what it selects; a scheduled run only the sources due at its time.
  const { due, notDue } =
    trigger.kind === 'schedule'
      ? splitByCadence(selected.sources, new Date(scheduledAt), config.schedule)
      : { due: selected.sources, notDue: [] };

  const plan = planBatches({
    runId,
    scheduledAt,
    sources: due,
    state: snapshot.sources,
    settings: config,
  });
  const invalidSources = [
    ...selected.invalid,
    ...rejectedAsInvalid(plan.rejected, validSourceIndexes(parsed)),
  ];
  for (const entry of invalidSources) {
    deps.log.warn('invalid source; recorded as a failed task', {
      runId,
      sourceId: entry.id,
      index: entry.index,
      errors: entry.errors,
    });
  }
  const now = isoNow(deps);
  const run: RunManifest = {
    runId,
    scheduledAt,
    trigger: trigger.kind,
    status: 'planned',
    plannedBy: invocation.requestId,
    sourceCount: due.length + invalidSources.length - plan.rejected.length,
    batches: plan.batches.map((batch) => ({
      batchId: batch.batchId,
      sourceIds: batch.tasks.map((task) => task.source.id),
      estimateMs: batch.estimateMs,
      payloadBytes: batch.payloadBytes,
    })),
    ...(notDue.length > 0 ? { notDueSourceIds: notDue.map((source) => source.id) } : {}),
    invalidSources,
    createdAt: now,
    updatedAt: now,
    state: snapshotAfterPlanning(
      snapshot,
      new Map(parsed.sources.map((source) => [source.id, sourceDefinition(source)])),
      now,
      runId,
    ),
  };
  // The run's one write: the plan and the state, stored before any collector runs, so
  // the run's completeness can always be computed and a retry continues it.
  if (!(await putJsonIfAbsent(deps.store, runManifestKey(runId), run))) {
    deps.log.info('run already planned by a concurrent delivery; nothing to do', { runId });
    return summary(runId, 'duplicate');
  }
  if (trigger.kind === 'manual') await logManualRun(run, offSchedule, deps);
  deps.log.info('run planned', {
    runId,
    batches: run.batches.length,
    tasks: plan.batches.reduce((n, batch) => n + batch.tasks.length, 0),
    notDue: notDue.length,
    invalidSources: invalidSources.length,
  });

  const prepared: PreparedBatch[] = plan.batches.map((batch) => ({
    batchId: batch.batchId,
    payload: buildPayload(runId, scheduledAt, batch.batchId, batch.tasks),
    missing: [],
  }));
  const report = await handOut(run, prepared, deps);
  // Earlier runs' stalled hops go after this run's own batches: they are extra work.
  const again = await redispatchStalled(
    stalled,
    new Map(parsed.sources.map((source) => [source.id, source])),
    snapshot,
    { ...dispatchSettings(config), defaultEstimateMs: config.defaultEstimateMs },
    deps,
  );
  return summary(runId, 'dispatched', {
    batches: run.batches.length,
    tasks: plan.batches.reduce((n, batch) => n + batch.tasks.length, 0),
    notDue: notDue.length,
    invalidSources: invalidSources.length,
    dispatched: report.dispatched.length,
    failed: report.failures.length + again.failed,
    parts: report.parts,
    redispatched: again.dispatched,
  });
}

/**
 * Whether an existing run manifest is this invocation's own (a Lambda retry, which
 * keeps the request id: continue the run) or another delivery's (nothing to do).
 * A `planned` manifest without `plannedBy` was written by an earlier version, which
 * marked finished runs `dispatched`: it stopped midway, so it is continued.
 */
export function isOwnRun(manifest: RunManifest, invocation: Invocation): boolean {
  if (manifest.status !== 'planned') return false;
  return manifest.plannedBy === undefined || manifest.plannedBy === invocation.requestId;
}

/**
 * A scheduled or manual run. The run id comes from the trigger, so another delivery
 * of the same tick finds the run planned by someone else and does nothing; a retry
 * of the planning invocation finds its own plan and dispatches what has no record.
 */
export async function startRun(
  trigger: RunTrigger,
  invocation: Invocation,
  deps: ManagerDeps,
): Promise<RunSummary> {
  const { manifest, problem } = await readRunManifest(deps.store, trigger.runId);
  if (problem !== undefined) {
    // Planning again would overwrite evidence; a person has to look at it.
    deps.log.error('run manifest exists but is unreadable; not touching the run', {
      runId: trigger.runId,
      problem,
    });
    return summary(trigger.runId, 'failed', { reason: `run manifest unreadable: ${problem}` });
  }
  if (manifest === undefined) return planRun(trigger, invocation, deps);
  if (isOwnRun(manifest, invocation)) return continueRun(manifest, deps);
  deps.log.info('run planned by another delivery; nothing to do', {
    runId: trigger.runId,
    status: manifest.status,
    plannedBy: manifest.plannedBy,
  });
  return summary(trigger.runId, 'duplicate', { batches: manifest.batches.length });
}

/** A dispatch part: dispatches its slice of a planned run's batches. */
export async function dispatchPart(
  trigger: Extract<ManagerTrigger, { kind: 'dispatch' }>,
  deps: ManagerDeps,
): Promise<RunSummary> {
  const { manifest, problem } = await readRunManifest(deps.store, trigger.runId);
  if (!manifest) {
    throw new UnknownRunError(trigger.runId, problem ?? 'has no run manifest');
  }
  // A duplicate delivery of the part skips batches whose collectors have reported.
  const settled = await settledBatchIds(deps.store, manifest, trigger.batchIds);
  const remaining = trigger.batchIds.filter((id) => !settled.has(id));
  const prepared = await prepareStored(manifest, remaining, deps);
  const report = await dispatchBatches(
    manifest.runId,
    prepared,
    dispatchSettings(deps.config),
    deps,
  );
  deps.log.info('dispatch part done', {
    runId: trigger.runId,
    part: trigger.part,
    batches: trigger.batchIds.length,
    dispatched: report.dispatched.length,
    failed: report.failures.length,
  });
  return summary(trigger.runId, 'part', {
    batches: trigger.batchIds.length,
    tasks: prepared.reduce((n, batch) => n + (batch.payload?.tasks.length ?? 0), 0),
    dispatched: report.dispatched.length,
    failed: report.failures.length,
  });
}

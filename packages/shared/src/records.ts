import * as z from 'zod/mini';
import { ContractValidationError } from './errors.js';
import { BatchIdSchema, RunIdSchema, SourceIdSchema } from './ids.js';
import { S3_USER_METADATA_MAX_BYTES } from './limits.js';
import { FormatOptionsSchema, FormatSchema } from './manifest.js';
import { OriginAllowancesSchema } from './origins.js';
import { linkValidatorsSchema, PreviousRawKeysSchema, ValidatorsSchema } from './payload.js';
import { RecordKeySchema } from './record-key.js';
import { CursorValueSchema, PageCursorSchema } from './record-selection.js';
import { check } from './validate.js';

/** An ISO 8601 time with its offset; a function, as every schema here is built on first use. */
const isoTime = () => z.iso.datetime({ offset: true });
/** A whole number >= 0. */
const count = () => z.number().check(z.int(), z.nonnegative());

/** Metadata stored with every raw object (S3 user metadata, `x-amz-meta-*`). */
export const RawObjectMetadataSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    runId: RunIdSchema,
    sourceId: SourceIdSchema,
    batchId: z.optional(BatchIdSchema),
    format: FormatSchema,
    formatOptions: z._default(FormatOptionsSchema, {}),
    /** The source's record key (see SourceSchema `key`). */
    recordKey: z.optional(RecordKeySchema),
    /**
     * `emit: "changes"`: the raw objects of the source's previous fetch (see PackEntrySchema).
     * Left out when it would take the metadata past S3's limit: the page is then emitted whole.
     */
    previousRawKeys: z.optional(PreviousRawKeysSchema),
    /** The source's cursor field and the value the fetch was made with (see PackEntrySchema). */
    cursor: z.optional(PageCursorSchema),
    /** Content-Type the upstream sent. */
    contentType: z.optional(z.string()),
    fetchedAt: isoTime(),
    scheduledAt: isoTime(),
    sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
    httpStatus: z.number().check(z.int(), z.minimum(100), z.maximum(599)),
    page: z.number().check(z.int(), z.nonnegative()),
    /**
     * The URL that answered (after redirects), redacted: what relative links on the page
     * resolve against. Left out when it would take the metadata past S3's limit.
     */
    url: z.optional(z.string()),
    /** A detail page: the `source` its records carry (`<source id>.detail`). */
    recordSource: z.optional(SourceIdSchema),
    /** A detail page: the URL of the page whose link led to it (redacted). */
    linkedFrom: z.optional(z.string()),
  }),
);
export type RawObjectMetadata = z.infer<typeof RawObjectMetadataSchema>;

const META_NAMES = {
  runId: 'run-id',
  sourceId: 'source-id',
  batchId: 'batch-id',
  format: 'format',
  formatOptions: 'format-options',
  recordKey: 'record-key',
  previousRawKeys: 'previous-raw-keys',
  cursor: 'cursor',
  contentType: 'upstream-content-type',
  fetchedAt: 'fetched-at',
  scheduledAt: 'scheduled-at',
  sha256: 'sha256',
  httpStatus: 'http-status',
  page: 'page',
  url: 'url',
  recordSource: 'record-source',
  linkedFrom: 'linked-from',
} as const satisfies Record<keyof RawObjectMetadata, string>;

/** JSON with every non-ASCII character escaped, so it fits an HTTP header value. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** An integer metadata value, or the text as it was so the error shows it. */
function integerOrText(text: string | undefined): number | string | undefined {
  return text !== undefined && /^-?\d+$/.test(text) ? Number(text) : text;
}

/** S3 user metadata is a flat map of lowercase ASCII strings. */
export function toS3Metadata(meta: RawObjectMetadata): Record<string, string> {
  const out: Record<string, string> = {
    [META_NAMES.runId]: meta.runId,
    [META_NAMES.sourceId]: meta.sourceId,
    [META_NAMES.format]: meta.format,
    [META_NAMES.formatOptions]: asciiJson(meta.formatOptions),
    [META_NAMES.fetchedAt]: meta.fetchedAt,
    [META_NAMES.scheduledAt]: meta.scheduledAt,
    [META_NAMES.sha256]: meta.sha256,
    [META_NAMES.httpStatus]: String(meta.httpStatus),
    [META_NAMES.page]: String(meta.page),
  };
  if (meta.batchId) out[META_NAMES.batchId] = meta.batchId;
  if (meta.recordKey) out[META_NAMES.recordKey] = asciiJson(meta.recordKey);
  if (meta.recordSource) out[META_NAMES.recordSource] = meta.recordSource;
  // Header values must be ASCII; upstream content types are, but be safe.
  if (meta.contentType) out[META_NAMES.contentType] = meta.contentType.replace(/[^\x20-\x7e]/g, '');
  // What is not needed to parse the page goes in only while the whole stays within S3's limit,
  // in this order: the cursor (without it the source's cursor does not advance from the
  // page), the URL (ASCII once parsed; relative links need it), the previous fetch's raw keys
  // (without them the page is emitted whole).
  const fitting: [string, string | undefined][] = [
    [META_NAMES.cursor, meta.cursor === undefined ? undefined : asciiJson(meta.cursor)],
    [META_NAMES.url, meta.url === undefined ? undefined : asciiUrl(meta.url)],
    [
      META_NAMES.previousRawKeys,
      meta.previousRawKeys === undefined ? undefined : asciiJson(meta.previousRawKeys),
    ],
  ];
  for (const [name, value] of fitting) {
    if (
      value !== undefined &&
      metadataBytes(out) + name.length + Buffer.byteLength(value) <= S3_USER_METADATA_MAX_BYTES
    ) {
      out[name] = value;
    }
  }
  // The linking page's URL too, while it fits: without it the records say no more than their source.
  const linkedFrom = meta.linkedFrom === undefined ? undefined : asciiUrl(meta.linkedFrom);
  if (
    linkedFrom !== undefined &&
    metadataBytes(out) + META_NAMES.linkedFrom.length + linkedFrom.length <=
      S3_USER_METADATA_MAX_BYTES
  ) {
    out[META_NAMES.linkedFrom] = linkedFrom;
  }
  return out;
}

function metadataBytes(metadata: Record<string, string>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(metadata)) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
  }
  return bytes;
}

function asciiUrl(url: string): string | undefined {
  try {
    return new URL(url).href;
  } catch {
    return undefined;
  }
}

/** Reads raw object metadata back from S3 (`HeadObject`/`GetObject` `Metadata`). */
export function fromS3Metadata(metadata: Record<string, string> | undefined): RawObjectMetadata {
  const m = metadata ?? {};
  const issues: string[] = [];
  const jsonField = (name: string): unknown => {
    const text = m[name];
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      issues.push(`metadata.${name}: not valid JSON, got ${JSON.stringify(text)}`);
      return undefined;
    }
  };
  const formatOptions = jsonField(META_NAMES.formatOptions) ?? {};
  const recordKey = jsonField(META_NAMES.recordKey);
  const previousRawKeys = jsonField(META_NAMES.previousRawKeys);
  const cursor = jsonField(META_NAMES.cursor);
  const status = m[META_NAMES.httpStatus];
  const page = m[META_NAMES.page];
  const candidate = {
    runId: m[META_NAMES.runId],
    sourceId: m[META_NAMES.sourceId],
    batchId: m[META_NAMES.batchId],
    format: m[META_NAMES.format],
    formatOptions,
    recordKey,
    previousRawKeys,
    cursor,
    contentType: m[META_NAMES.contentType],
    fetchedAt: m[META_NAMES.fetchedAt],
    scheduledAt: m[META_NAMES.scheduledAt],
    sha256: m[META_NAMES.sha256],
    httpStatus: integerOrText(status),
    page: integerOrText(page),
    url: m[META_NAMES.url],
    recordSource: m[META_NAMES.recordSource],
    linkedFrom: m[META_NAMES.linkedFrom],
  };
  const result = check(RawObjectMetadataSchema, candidate, ['metadata']);
  if (!result.ok || issues.length > 0) {
    throw new ContractValidationError('raw object metadata', [
      ...issues,
      ...(result.ok ? [] : result.issues),
    ]);
  }
  return result.value;
}

export const TASK_STATUSES = ['ok', 'unchanged', 'failed'] as const;

/** What a source that follows links found on its pages. */
export const FollowCountsSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    /** Distinct links the selector found on the source's origins (and `follow.origins`). */
    found: count(),
    /** Of those, followed: the first ones, up to the source's limit this run. */
    followed: count(),
  }),
);
export type FollowCounts = z.infer<typeof FollowCountsSchema>;

/** A detail page found by a hop: its task id, the source that linked it, its URL and the linking page. */
export const FollowedLinkSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    /** The task's id (`followTaskId`): `<source id>.detail.<link hash>`. */
    id: SourceIdSchema,
    sourceId: SourceIdSchema,
    /** The link, resolved (no fragment, no `user:password@`): the URL the task fetches. */
    url: z.string().check(z.minLength(1)),
    /** The page that held it (redacted). */
    from: z.string().check(z.minLength(1)),
  }),
);
export type FollowedLink = z.infer<typeof FollowedLinkSchema>;

/**
 * Detail tasks a hop handed on: to a new batch of the run (`hop` 0), or to its own
 * continuation (its batch and `hop + 1`), when that already works the links' origin under its
 * limit. Recorded in the hop's record before the batches are started, so every reader of the
 * run knows them from there: the run is not complete until each has an outcome.
 */
export const FollowedBatchSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    batchId: BatchIdSchema,
    hop: count(),
    links: z.array(FollowedLinkSchema).check(z.minLength(1)),
    /** The share of each limited origin the new batch was given. */
    origins: z.optional(OriginAllowancesSchema),
  }),
);
export type FollowedBatch = z.infer<typeof FollowedBatchSchema>;

/** One task's outcome: one per source per run. */
export const TaskOutcomeSchema = /* @__PURE__ */ z.lazy(() =>
  z.discriminatedUnion('status', [
    z.object({
      status: z.literal('ok'),
      sourceId: SourceIdSchema,
      attempts: z.number().check(z.int(), z.positive()),
      durationMs: z.number().check(z.nonnegative()),
      httpStatus: z.number().check(z.int()),
      bytes: z.number().check(z.int(), z.nonnegative()),
      /**
       * The raw object of each page, in page order: a page in a pack names the pack, so
       * one key may appear for several pages. Each raw object must get a parse outcome.
       */
      rawKeys: z.array(z.string()).check(z.minLength(1)),
      validators: ValidatorsSchema,
      finishedAt: isoTime(),
      links: z.optional(FollowCountsSchema),
    }),
    z.object({
      status: z.literal('unchanged'),
      sourceId: SourceIdSchema,
      attempts: z.number().check(z.int(), z.positive()),
      durationMs: z.number().check(z.nonnegative()),
      /** 304, or 200 with the same body hash as last time. */
      httpStatus: z.number().check(z.int()),
      validators: ValidatorsSchema,
      finishedAt: isoTime(),
      links: z.optional(FollowCountsSchema),
    }),
    z.object({
      status: z.literal('failed'),
      sourceId: z.string(),
      attempts: z.number().check(z.int(), z.nonnegative()),
      durationMs: z.number().check(z.nonnegative()),
      reason: z.string().check(z.minLength(1)),
      httpStatus: z.optional(z.number().check(z.int())),
      /**
       * Sending the task again cannot help until the source's definition changes: a 4xx
       * other than 408 and 429, a body over the size limit, a refused address or protocol.
       * `fanout replay` leaves such tasks out unless asked (`--include-failed`).
       */
      permanent: z.optional(z.boolean()),
      finishedAt: isoTime(),
    }),
  ]),
);
export type TaskOutcome = z.infer<typeof TaskOutcomeSchema>;

/** The outcome records of one collector invocation (a batch, or one continuation hop). */
export const BatchResultSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    runId: RunIdSchema,
    batchId: BatchIdSchema,
    hop: z.number().check(z.int(), z.nonnegative()),
    outcomes: z.array(TaskOutcomeSchema),
    /** Tasks handed to the next hop (continuation), by source id. */
    continued: z._default(z.array(SourceIdSchema), []),
    /** Detail pages this hop found and handed on (sources with `follow`). */
    followed: z.optional(z.array(FollowedBatchSchema)),
    writtenAt: isoTime(),
  }),
);
export type BatchResult = z.infer<typeof BatchResultSchema>;

/** A batch that could not run: not dispatched, or its payload failed validation. */
export const BatchFailureSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    /**
     * `collector-failed`: Lambda gave up on a collector hop (retries or event age) and the
     * manager's redrives did not finish it either.
     */
    kind: z.enum(['dispatch-failed', 'invalid-payload', 'continuation-failed', 'collector-failed']),
    runId: z.optional(RunIdSchema),
    batchId: z.optional(BatchIdSchema),
    hop: z.optional(z.number().check(z.int(), z.nonnegative())),
    reason: z.string().check(z.minLength(1)),
    sourceIds: z._default(z.array(z.string()), []),
    /** The payload to re-deliver (`fanout replay`), as it was, or redacted (see below). */
    payload: z.unknown(),
    /**
     * The payload's URLs and header values were redacted before it was stored (they may
     * hold credentials): a replay rebuilds the tasks of `sourceIds` from the manifest.
     */
    payloadRedacted: z.optional(z.boolean()),
    recordedAt: isoTime(),
  }),
);
export type BatchFailure = z.infer<typeof BatchFailureSchema>;

/**
 * Tasks of a batch hop that never reported (older than the collector's event age
 * plus its timeout, so no collector can still be working on them), handed to a new
 * batch of the same run by the manager. The new batch's records follow the usual keys.
 */
export const RedispatchSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    runId: RunIdSchema,
    /** The planned batch and hop that left these tasks without a record. */
    fromBatchId: BatchIdSchema,
    fromHop: z.number().check(z.int(), z.nonnegative()),
    /** The new batch of the run that carries them, from hop 0. */
    batchId: BatchIdSchema,
    sourceIds: z.array(SourceIdSchema).check(z.minLength(1)),
    dispatchedAt: isoTime(),
  }),
);
export type Redispatch = z.infer<typeof RedispatchSchema>;

export const ErrorLocationSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    line: z.optional(z.number().check(z.int(), z.positive())),
    byteOffset: z.optional(z.number().check(z.int(), z.nonnegative())),
    record: z.optional(z.number().check(z.int(), z.nonnegative())),
  }),
);
export type ErrorLocation = z.infer<typeof ErrorLocationSchema>;

/**
 * The parse outcome of one raw object (a pack or a single response), stored as the
 * metadata of its parsed object: no extra object per parse. Counts are per page (a
 * pack entry, or a single raw object).
 */
export const ParsedObjectOutcomeSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    runId: RunIdSchema,
    rawKey: z.string(),
    /** Pages the raw object held. */
    pages: count(),
    /** Pages whose records are in the parsed object. */
    parsed: count(),
    /** Pages quarantined on their own (each has a copy and a report under quarantine/). */
    quarantined: count(),
    /** `<sourceId>-p<NNNN>` of the quarantined pages; cut short past what metadata can hold. */
    quarantinedPages: z._default(z.array(z.string()), []),
    /**
     * `<sourceId>-p<NNNN>` of the pages that declared no charset, were not UTF-8 and were
     * read as windows-1252 (as browsers and feedparser read them); absent when none was, and
     * cut short (before quarantinedPages is) past what metadata can hold.
     */
    windows1252Pages: z.optional(z.array(z.string())),
    /**
     * For each source with a `cursor` whose pages in this object all parsed: the highest
     * cursor value of its records, or the value its fetch was made with when none is higher.
     * The next manager reads it (one HEAD) into the source's state. Cut short (after the page
     * lists) past what metadata can hold: a source left out keeps its cursor one run longer.
     */
    cursors: z.optional(z.record(SourceIdSchema, CursorValueSchema)),
    records: count(),
    bytesIn: count(),
    bytesOut: count(),
    parsedAt: isoTime(),
  }),
);
export type ParsedObjectOutcome = z.infer<typeof ParsedObjectOutcomeSchema>;

/** What a parse outcome, the run report and `status` say of a page in `windows1252Pages`. */
export const WINDOWS_1252_FALLBACK = 'decoded as windows-1252: not UTF-8, no charset declared';

const OUTCOME_META = 'fanout-outcome';
/** S3 allows 2 KB of user metadata in all; the outcome keeps well inside it. */
const OUTCOME_META_MAX_CHARS = 1_600;
/** With cursors, up to S3's limit less the metadata name. */
const OUTCOME_WITH_CURSORS_MAX_CHARS = S3_USER_METADATA_MAX_BYTES - OUTCOME_META.length;

/**
 * The parsed object's S3 metadata for an outcome. Page names are cut to fit first (the counts
 * stay); cursors may use the rest of S3's limit, for which page names are cut further, and
 * only then cursors themselves.
 */
export function toParsedObjectMetadata(outcome: ParsedObjectOutcome): Record<string, string> {
  const { windows1252Pages, cursors, ...rest } = outcome;
  let pages = [...outcome.quarantinedPages];
  let decoded = [...(windows1252Pages ?? [])];
  let kept = Object.entries(cursors ?? {});
  const asText = (withCursors: boolean) =>
    asciiJson({
      ...rest,
      quarantinedPages: pages,
      ...(decoded.length > 0 ? { windows1252Pages: decoded } : {}),
      ...(withCursors && kept.length > 0 ? { cursors: Object.fromEntries(kept) } : {}),
    });
  const cutPageNames = (fits: () => boolean) => {
    while (!fits() && decoded.length > 0)
      decoded = decoded.slice(0, Math.floor(decoded.length / 2));
    while (!fits() && pages.length > 0) pages = pages.slice(0, Math.floor(pages.length / 2));
  };
  cutPageNames(() => asText(false).length <= OUTCOME_META_MAX_CHARS);
  cutPageNames(() => asText(true).length <= OUTCOME_WITH_CURSORS_MAX_CHARS);
  while (asText(true).length > OUTCOME_WITH_CURSORS_MAX_CHARS && kept.length > 0) {
    kept = kept.slice(0, Math.floor(kept.length / 2));
  }
  return { [OUTCOME_META]: asText(true) };
}

/** The outcome in a parsed object's metadata, or undefined when it has none (or a bad one). */
export function fromParsedObjectMetadata(
  metadata: Record<string, string> | undefined,
): ParsedObjectOutcome | undefined {
  const text = metadata?.[OUTCOME_META];
  if (text === undefined) return undefined;
  try {
    const result = check(ParsedObjectOutcomeSchema, JSON.parse(text));
    return result.ok ? result.value : undefined;
  } catch {
    return undefined;
  }
}

/** The error report written beside a quarantined object. */
export const QuarantineReportSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    rawKey: z.string(),
    /** For one entry of a pack: whose page it was. */
    sourceId: z.optional(z.string()),
    page: z.optional(count()),
    reason: z.string(),
    errorName: z.string(),
    location: z.optional(ErrorLocationSchema),
    metadata: z._default(z.record(z.string(), z.string()), {}),
    quarantinedAt: isoTime(),
  }),
);
export type QuarantineReport = z.infer<typeof QuarantineReportSchema>;

/**
 * What the pipeline remembers of one source between runs. It travels in a loop: a
 * collector's task outcome (in its hop's pack header) -> merged by the next manager
 * (`mergeOutcome` in source-state.ts) -> stored in that run's manifest -> put into the
 * next collector payload (`carriedToTask`). A value that must travel the same way (a
 * cursor, hashes of the last records) is a field here, set in `mergeOutcome`, sent in
 * `carriedToTask` and dropped in `stateForDefinition` when the source is edited.
 */
export const SourceStateSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    validators: z._default(ValidatorsSchema, {}),
    /** Most recent measured fetch durations, newest last. */
    durationsMs: z._default(z.array(z.number().check(z.nonnegative())), []),
    lastRunId: z.optional(RunIdSchema),
    lastStatus: z.optional(z.enum(TASK_STATUSES)),
    /** When the outcome last merged finished; an older outcome arriving late is not merged over it. */
    lastFinishedAt: z.optional(isoTime()),
    /**
     * Fingerprint of the source's definition the state belongs to (`sourceDefinition`):
     * when the manifest entry changes, what was learned of the old one is dropped.
     */
    definition: z.optional(z.string()),
    /** Bytes of the last stored body (all pages): a large one is asked for unencoded. */
    bytes: z.optional(count()),
    /**
     * A source that follows links: the validators of the detail pages its last run followed,
     * by link hash (`linkHash`), so the next run asks for them conditionally.
     */
    follow: z.optional(linkValidatorsSchema()),
    /**
     * `emit: "changes"`: the raw objects of the last fetch that stored pages (a 304 or an
     * unchanged body keeps them), which the next fetch's records are compared with.
     */
    rawKeys: z.optional(PreviousRawKeysSchema),
    /** A `cursor`'s highest value seen (JSON text), from the parse outcomes of its fetches. */
    cursor: z.optional(CursorValueSchema),
  }),
);
export type SourceState = z.infer<typeof SourceStateSchema>;

/**
 * Per-source state, one document for all sources: read once per run by the
 * manager instead of one GET per source (S3 requests are most of the bill).
 */
export const StateSnapshotSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    version: z.literal(1),
    /** Runs whose results are merged into this snapshot (most recent last). */
    mergedRuns: z._default(z.array(RunIdSchema), []),
    /** Dispatched runs whose results are not all merged yet (oldest first). */
    pendingRuns: z.optional(z.array(RunIdSchema)),
    sources: z._default(z.record(SourceIdSchema, SourceStateSchema), {}),
    /** When the run that carries this snapshot planned: later off-schedule work is new to it. */
    updatedAt: z.optional(isoTime()),
  }),
);
export type StateSnapshot = z.infer<typeof StateSnapshotSchema>;

/**
 * Work the schedule cannot find by key, for the next run to merge: a manual run (its id is
 * not a fire time) and a replay (its batches are not in the run's plan). One small object
 * (`offScheduleLogKey`), read once per run and written only by manual runs and replays, so
 * a scheduled cycle adds one GET and no PUT. Last writer wins: two writers at the same
 * moment may lose an entry, which costs the state a refinement, never a record.
 */
export const OffScheduleEntrySchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    kind: z.enum(['manual', 'replay']),
    runId: RunIdSchema,
    /** When the run was planned or the replay sent its work. */
    at: isoTime(),
    /** A replay's new batches (outside the run's plan), whose hops hold its outcomes. */
    batchIds: z.optional(z.array(BatchIdSchema)),
  }),
);
export type OffScheduleEntry = z.infer<typeof OffScheduleEntrySchema>;

export const OffScheduleLogSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    version: z.literal(1),
    /** Oldest first; the oldest are dropped past `OFF_SCHEDULE_ENTRIES_KEPT`. */
    entries: z._default(z.array(OffScheduleEntrySchema), []),
  }),
);
export type OffScheduleLog = z.infer<typeof OffScheduleLogSchema>;

/** Entries the off-schedule log keeps: far more than runs stay pending. */
export const OFF_SCHEDULE_ENTRIES_KEPT = 100;

/** The log in a stored text; an unreadable one reads as empty, with the problem. */
export function parseOffScheduleLog(text: string): { log: OffScheduleLog; problem?: string } {
  const empty: OffScheduleLog = { version: 1, entries: [] };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { log: empty, problem: `not JSON: ${(error as Error).message}` };
  }
  const result = check(OffScheduleLogSchema, value);
  return result.ok ? { log: result.value } : { log: empty, problem: result.issues.join('; ') };
}

/** The log with `entry` added last (the oldest dropped past the limit). */
export function withOffScheduleEntry(log: OffScheduleLog, entry: OffScheduleEntry): OffScheduleLog {
  const entries = [...log.entries, entry];
  return { version: 1, entries: entries.slice(-OFF_SCHEDULE_ENTRIES_KEPT) };
}

export const PlannedBatchSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    batchId: BatchIdSchema,
    sourceIds: z.array(SourceIdSchema).check(z.minLength(1)),
    estimateMs: z.number().check(z.nonnegative()),
    payloadBytes: z.number().check(z.int(), z.positive()),
    /** The batch's share of each limited origin (see origins.ts): a re-sent payload gets the same. */
    origins: z.optional(OriginAllowancesSchema),
  }),
);
export type PlannedBatch = z.infer<typeof PlannedBatchSchema>;

/** The run manifest: written before any collector is invoked. */
export const RunManifestSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    runId: RunIdSchema,
    scheduledAt: isoTime(),
    trigger: z.enum(['schedule', 'manual']),
    status: z.enum(['planned', 'dispatched', 'failed']),
    /** Why a failed run failed (e.g. the manifest is not valid JSON). */
    reason: z.optional(z.string()),
    /**
     * The manager invocation that planned the run. A Lambda retry of that invocation keeps
     * its request id and continues the run; another delivery of the same schedule is a duplicate.
     */
    plannedBy: z.optional(z.string()),
    sourceCount: count(),
    batches: z.array(PlannedBatchSchema),
    /**
     * Valid sources a scheduled run left out because their `every` cadence is not due at
     * its scheduled time (not in `sourceCount`, not tasks). Absent: every source was due.
     */
    notDueSourceIds: z.optional(z.array(SourceIdSchema)),
    /** Manifest entries that did not validate; each counts as a failed task. */
    invalidSources: z.array(
      z.object({
        index: z.number().check(z.int()),
        id: z.optional(z.string()),
        errors: z.array(z.string()),
      }),
    ),
    createdAt: isoTime(),
    updatedAt: isoTime(),
    /**
     * The per-source state the run was planned with (earlier runs' outcomes merged):
     * the next run reads it from here, so no separate state object is written per run.
     */
    state: z.optional(StateSnapshotSchema),
  }),
);
export type RunManifest = z.infer<typeof RunManifestSchema>;

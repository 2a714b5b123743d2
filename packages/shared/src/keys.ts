import { KeyLayoutError } from './errors.js';
import { partitionDate, RUN_ID_PATTERN, SOURCE_ID_PATTERN } from './ids.js';
import { PREFIXES, topology } from './topology.js';

/**
 * The bucket layout. Every key is a pure function of (source, run, page) or of
 * the raw key it derives from, so a retry or a duplicate event overwrites the
 * same object instead of adding one.
 *
 *   manifest/sources.json
 *   raw/source=<id>/dt=<YYYY-MM-DD>/<runId>-p<NNNN>.<ext>
 *   parsed/source=<id>/dt=<YYYY-MM-DD>/<runId>-p<NNNN>.ndjson.gz
 *   quarantine/source=<id>/dt=<YYYY-MM-DD>/<runId>-p<NNNN>.<ext>        (copy of the raw object)
 *   quarantine/source=<id>/dt=<YYYY-MM-DD>/<runId>-p<NNNN>.<ext>.error.json
 *   runs/<runId>/run.json                        run manifest (planned batches and tasks)
 *   runs/<runId>/results/<batchId>-h<hop>.json   one outcome record per task of a batch hop
 *   runs/<runId>/failures/<batchId>-h<hop>.json  a batch that could not be dispatched or run
 *   runs/<runId>/redispatches/<batchId>-h<hop>.json  a hop that never reported, handed to a new batch
 *   runs/<runId>/parses/<raw key below raw/>.json  parse outcome of one raw object
 *   runs/_invalid/<YYYY-MM-DD>/<requestId>.json  an event too malformed to belong to a run
 *   runs/<runId>/partial/<batchId>-h<hop>-<sourceId>-<requestId>.part  a cut download's bytes
 *   state/sources.json                           per-source state of earlier versions (read once)
 *   state/off-schedule.json                      manual runs and replays for the next run to merge
 */

const RAW_KEY_PATTERN =
  /^raw\/source=([^/]+)\/dt=(\d{4}-\d{2}-\d{2})\/([^/]+)-p(\d{4,})\.([a-z0-9]+)$/;

const PACK_KEY_PATTERN =
  /^raw\/packs\/dt=(\d{4}-\d{2}-\d{2})\/([^/]+)-(b\d{5,})-h(\d+)\.pack\.ndjson\.gz$/;

export const PARSED_SUFFIX = '.ndjson.gz';
export const PACK_SUFFIX = '.pack.ndjson.gz';
export const ERROR_REPORT_SUFFIX = '.error.json';
export const ENTRY_SUFFIX = '.entry.json';

export interface PackKeyParts {
  readonly runId: string;
  /** ISO time the run was scheduled for; its UTC date is the `dt=` partition. */
  readonly scheduledAt: string;
  readonly batchId: string;
  readonly hop: number;
}

export interface ParsedPackKey {
  readonly date: string;
  readonly runId: string;
  readonly batchId: string;
  readonly hop: number;
}

export interface RawKeyParts {
  readonly sourceId: string;
  /** ISO time the run was scheduled for; its UTC date is the `dt=` partition. */
  readonly scheduledAt: string;
  readonly runId: string;
  /** 0 for the first response; pagination adds pages. */
  readonly page: number;
  readonly extension: string;
}

export interface ParsedRawKey {
  readonly sourceId: string;
  readonly date: string;
  readonly runId: string;
  readonly page: number;
  readonly extension: string;
}

function assertSourceId(sourceId: string): void {
  if (!SOURCE_ID_PATTERN.test(sourceId)) throw new KeyLayoutError(sourceId, 'invalid source id');
}

function assertRunId(runId: string): void {
  if (!RUN_ID_PATTERN.test(runId)) throw new KeyLayoutError(runId, 'invalid run id');
}

export function manifestKey(): string {
  return topology.manifestKey;
}

export function rawKey(parts: RawKeyParts): string {
  assertSourceId(parts.sourceId);
  assertRunId(parts.runId);
  if (!Number.isInteger(parts.page) || parts.page < 0) {
    throw new KeyLayoutError(String(parts.page), 'page must be a non-negative integer');
  }
  if (!/^[a-z0-9]+$/.test(parts.extension)) {
    throw new KeyLayoutError(parts.extension, 'extension must be lowercase letters and digits');
  }
  const page = String(parts.page).padStart(4, '0');
  return `${PREFIXES.raw}source=${parts.sourceId}/dt=${partitionDate(parts.scheduledAt)}/${parts.runId}-p${page}.${parts.extension}`;
}

/** The parts of a raw key written by a collector, or undefined for any other key. */
export function parseRawKey(key: string): ParsedRawKey | undefined {
  const match = RAW_KEY_PATTERN.exec(key);
  if (!match) return undefined;
  const [, sourceId, date, runId, page, extension] = match;
  if (
    sourceId === undefined ||
    date === undefined ||
    runId === undefined ||
    page === undefined ||
    extension === undefined
  ) {
    return undefined;
  }
  if (!SOURCE_ID_PATTERN.test(sourceId) || !RUN_ID_PATTERN.test(runId)) return undefined;
  return { sourceId, date, runId, page: Number(page), extension };
}

function pad(page: number): string {
  return String(page).padStart(4, '0');
}

/** Where a collector hop stores its pack, once (first writer wins); a continuation has its own. */
export function rawPackKey(parts: PackKeyParts): string {
  if (!/^b\d{5,}$/.test(parts.batchId)) throw new KeyLayoutError(parts.batchId, 'invalid batch id');
  if (!Number.isInteger(parts.hop) || parts.hop < 0) {
    throw new KeyLayoutError(String(parts.hop), 'hop must be a non-negative integer');
  }
  return `${runPacksPrefix(parts.runId, parts.scheduledAt)}${parts.batchId}-h${parts.hop}${PACK_SUFFIX}`;
}

/**
 * The prefix of every pack of a run. Another run's id may start with this one's followed
 * by `-`, so a reader of a listing keeps only the keys `parsePackKey` gives this run id.
 */
export function runPacksPrefix(runId: string, scheduledAt: string): string {
  assertRunId(runId);
  return `${PREFIXES.raw}packs/dt=${partitionDate(scheduledAt)}/${runId}-`;
}

/** The parts of a pack key, or undefined for any other key. */
export function parsePackKey(key: string): ParsedPackKey | undefined {
  const match = PACK_KEY_PATTERN.exec(key);
  if (!match) return undefined;
  const [, date, runId, batchId, hop] = match;
  if (date === undefined || runId === undefined || batchId === undefined || hop === undefined) {
    return undefined;
  }
  if (!RUN_ID_PATTERN.test(runId)) return undefined;
  return { date, runId, batchId, hop: Number(hop) };
}

export function isPackKey(key: string): boolean {
  return parsePackKey(key) !== undefined;
}

export function isRawKey(key: string): boolean {
  return key.startsWith(PREFIXES.raw) && key.length > PREFIXES.raw.length;
}

/** The part of a raw key below `raw/`; throws for keys outside the raw prefix. */
export function rawRelativePath(key: string): string {
  if (!isRawKey(key)) throw new KeyLayoutError(key, `not under ${PREFIXES.raw}`);
  return key.slice(PREFIXES.raw.length);
}

function withoutExtension(path: string): string {
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  return dot > slash + 1 ? path.slice(0, dot) : path;
}

/**
 * Where the parsed records of a raw object go: `parsed/dt=<date>/`, the one partition
 * Athena prunes by (source and run are columns of every record). A raw object at a key
 * no collector writes keeps its path below `parsed/`.
 */
export function parsedKeyForRaw(key: string): string {
  const pack = parsePackKey(key);
  if (pack) {
    return `${PREFIXES.parsed}dt=${pack.date}/${pack.runId}~${pack.batchId}-h${pack.hop}${PARSED_SUFFIX}`;
  }
  const single = parseRawKey(key);
  if (single) {
    return `${PREFIXES.parsed}dt=${single.date}/${single.runId}~${single.sourceId}~p${pad(single.page)}${PARSED_SUFFIX}`;
  }
  return `${PREFIXES.parsed}${withoutExtension(rawRelativePath(key))}${PARSED_SUFFIX}`;
}

/** Where one bad entry of a pack is copied (the entry line as it was stored). */
export function quarantineKeyForEntry(packKey: string, sourceId: string, page: number): string {
  assertSourceId(sourceId);
  if (!isPackKey(packKey)) throw new KeyLayoutError(packKey, 'not a pack key');
  return `${quarantineKeyForRaw(packKey)}/${sourceId}-p${pad(page)}${ENTRY_SUFFIX}`;
}

/** The error report beside a quarantined entry. */
export function quarantineReportKeyForEntry(
  packKey: string,
  sourceId: string,
  page: number,
): string {
  return `${quarantineKeyForEntry(packKey, sourceId, page)}${ERROR_REPORT_SUFFIX}`;
}

/** Where an unparseable raw object is copied. */
export function quarantineKeyForRaw(key: string): string {
  return `${PREFIXES.quarantine}${rawRelativePath(key)}`;
}

/** The error report beside a quarantined object. */
export function quarantineReportKeyForRaw(key: string): string {
  return `${quarantineKeyForRaw(key)}${ERROR_REPORT_SUFFIX}`;
}

/** The raw key a quarantine report or copy was made from. */
export function rawKeyForQuarantine(key: string): string {
  if (!key.startsWith(PREFIXES.quarantine)) {
    throw new KeyLayoutError(key, `not under ${PREFIXES.quarantine}`);
  }
  const relative = key.slice(PREFIXES.quarantine.length);
  const copy = relative.endsWith(ERROR_REPORT_SUFFIX)
    ? relative.slice(0, -ERROR_REPORT_SUFFIX.length)
    : relative;
  // An entry's copy sits below its pack's path: the raw object to re-read is the pack.
  const packEnd = copy.indexOf(`${PACK_SUFFIX}/`);
  const raw = packEnd === -1 ? copy : copy.slice(0, packEnd + PACK_SUFFIX.length);
  return `${PREFIXES.raw}${raw}`;
}

export function runPrefix(runId: string): string {
  assertRunId(runId);
  return `${PREFIXES.runs}${runId}/`;
}

export function runManifestKey(runId: string): string {
  return `${runPrefix(runId)}run.json`;
}

export function batchResultsPrefix(runId: string): string {
  return `${runPrefix(runId)}results/`;
}

export function batchResultKey(runId: string, batch: string, hop: number): string {
  return `${batchResultsPrefix(runId)}${batch}-h${hop}.json`;
}

export function failuresPrefix(runId: string): string {
  return `${runPrefix(runId)}failures/`;
}

export function batchFailureKey(runId: string, batch: string, hop: number): string {
  return `${failuresPrefix(runId)}${batch}-h${hop}.json`;
}

export function redispatchesPrefix(runId: string): string {
  return `${runPrefix(runId)}redispatches/`;
}

/**
 * The record that a batch's hop never reported and its tasks went to a new batch of the
 * same run (sent by the manager, or by `fanout replay`): written once, with
 * `If-None-Match: *`, so the hop's tasks are sent again by one of them only.
 */
export function redispatchKey(runId: string, batch: string, hop: number): string {
  return `${redispatchesPrefix(runId)}${batch}-h${hop}.json`;
}

export const INVALID_EVENTS_PREFIX = `${PREFIXES.runs}_invalid/`;

/** Where an event too malformed to name its run is recorded. */
export function invalidEventKey(at: string, requestId: string): string {
  const safeId = requestId.replace(/[^A-Za-z0-9_.-]/g, '_');
  return `${INVALID_EVENTS_PREFIX}${partitionDate(at)}/${safeId}.json`;
}

/**
 * The state snapshot of earlier versions. The state now travels in each run manifest
 * (one PUT less per run); a manager still reads this key once when no run has it yet.
 */
export function sourceStateKey(): string {
  return `${PREFIXES.state}sources.json`;
}

/** Manual runs and replays, for the next run to merge (`OffScheduleLogSchema`). */
export function offScheduleLogKey(): string {
  return `${PREFIXES.state}off-schedule.json`;
}

/**
 * Encodes a key the way S3 writes it into event notifications: form encoding
 * (space as `+`, UTF-8 bytes as `%XX`) with `/` left as is.
 */
export function encodeS3EventKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/%2F/g, '/')
    .replace(/%20/g, '+')
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Decodes `s3.object.key` from an S3 event: `red+flower.jpg` -> `red flower.jpg`.
 * The one place in the codebase that does it.
 */
export function decodeS3EventKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch {
    throw new KeyLayoutError(encoded, 'S3 event key is not valid URL encoding');
  }
}

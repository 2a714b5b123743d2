import { createHash } from 'node:crypto';
import { KeyLayoutError } from './errors.js';
import type { Source } from './manifest.js';
import { originOf } from './origins.js';
import type { CollectorTask, Validators } from './payload.js';
import type {
  BatchResult,
  FollowedBatch,
  FollowedLink,
  SourceState,
  TaskOutcome,
} from './records.js';
import { REDACTED, urlWithoutUserInfo } from './redact.js';
import { isCredentialQueryName } from './secrets.js';

/**
 * Detail pages, fanned out: a source with `follow` reads the links of its pages, and each
 * link becomes a task of the same run (a "detail task"), handed to new batches of the run by
 * the hop that found it and recorded in that hop's record (`BatchResult.followed`). Every
 * reader of a run (the manager's merge and redispatch, `fanout status`, `replay`) learns the
 * detail tasks there, so a run is complete only when each has an outcome.
 *
 * Names, all functions of the source id and the link, so a retried hop finds the same ones:
 *   task id          `<source id>.detail.<link hash>`  (outcomes, pack entries, raw keys)
 *   records' source  `<source id>.detail`              (what `fanout records` and SQL see)
 *   batch id         b + 10^13 + parent batch * 10^5 + hop * 10^3 + part
 */

/** Hex digits of the link hash: 64 bits, to tell a source's links apart. */
const LINK_HASH_DIGITS = 16;

/** The hash that names a detail page: of its URL, as fetched. */
export function linkHash(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, LINK_HASH_DIGITS);
}

/** The `source` of a source's detail records. */
export function followRecordSource(sourceId: string): string {
  return `${sourceId}.detail`;
}

/** The task id of a detail page of `sourceId`. */
export function followTaskId(sourceId: string, url: string): string {
  return `${followRecordSource(sourceId)}.${linkHash(url)}`;
}

/** Detail batches are numbered from here: clear of planned, redispatched and replayed batches. */
export const FOLLOW_BATCH_BASE = 10_000_000_000_000;
/** Batches that carry a stalled detail batch's tasks again are numbered from here. */
export const FOLLOW_REDISPATCH_BASE = 100_000_000_000_000;
const PARENT_FACTOR = 100_000;
const HOP_FACTOR = 1_000;
/** Detail batches one hop may start. */
export const MAX_FOLLOW_BATCHES_PER_HOP = HOP_FACTOR - 1;

function batchNumber(batchId: string): number {
  const digits = /^b(\d{5,})$/.exec(batchId)?.[1];
  if (digits === undefined) throw new KeyLayoutError(batchId, 'invalid batch id');
  return Number(digits);
}

/**
 * The batch that takes the `part`-th share of the detail pages a hop found: a function of
 * the hop, so a retry of the hop starts the same batches (and their records stop a duplicate).
 */
export function followBatchId(parentBatchId: string, hop: number, part: number): string {
  const parent = batchNumber(parentBatchId);
  if (parent >= FOLLOW_BATCH_BASE / PARENT_FACTOR || hop >= PARENT_FACTOR / HOP_FACTOR) {
    throw new KeyLayoutError(parentBatchId, `no detail batch id for hop ${hop} of this batch`);
  }
  if (part < 0 || part > MAX_FOLLOW_BATCHES_PER_HOP) {
    throw new KeyLayoutError(String(part), 'detail batch part out of range');
  }
  return `b${FOLLOW_BATCH_BASE + parent * PARENT_FACTOR + hop * HOP_FACTOR + part}`;
}

/** Whether a batch id is a detail batch's (or one that carries a stalled one's tasks again). */
export function isFollowBatchId(batchId: string): boolean {
  const digits = /^b(\d{5,})$/.exec(batchId)?.[1];
  return digits !== undefined && Number(digits) >= FOLLOW_BATCH_BASE;
}

/** The batch that carries a stalled hop of a detail batch again (one per batch and hop). */
export function followRedispatchBatchId(
  batchId: string,
  hop: number,
  hopsPerBatch: number,
): string {
  const offset = batchNumber(batchId) - FOLLOW_BATCH_BASE;
  return `b${FOLLOW_REDISPATCH_BASE + Math.max(0, offset) * hopsPerBatch + hop}`;
}

/** The link a page holds, as the task fetches it: absolute, no fragment, no `user:password@`. */
export function followableUrl(reference: string): string | undefined {
  const url = urlWithoutUserInfo(reference);
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    return undefined;
  }
  return url.href;
}

/**
 * A page's URL as detail records name it (`url`, `linkedFrom`): no `user:password@`, no
 * fragment, and the values of query parameters whose names look like credentials (`token`,
 * `key`, `sig`, ...) replaced by `REDACTED`; the others are kept, since they tell the pages
 * apart (`?page=2`, `?id=7`). Resolved secrets are scrubbed by the collector before this.
 */
export function pageAddress(url: string): string {
  const parsed = urlWithoutUserInfo(url);
  if (parsed === undefined) return url;
  if (parsed.search !== '') {
    const kept = [...parsed.searchParams.entries()].map(([name, value]): [string, string] => [
      name,
      isCredentialQueryName(name) ? REDACTED : value,
    ]);
    parsed.search = new URLSearchParams(kept).toString();
  }
  return parsed.href;
}

/** Origins whose links a source follows: its URL's, and those its `follow.origins` lists. */
export function followedOrigins(source: Source): Set<string> {
  const origins = new Set<string>();
  const own = originOf(source.url);
  if (own !== undefined) origins.add(own);
  for (const origin of source.follow?.origins ?? []) {
    const parsed = originOf(origin);
    if (parsed !== undefined) origins.add(parsed);
  }
  return origins;
}

/**
 * The task of one detail page of `parent`: fetched like a source of its own, with the
 * follow's format, options and key, the parent's timeouts and limits, and the parent's
 * headers and basic auth only on the parent's own origin (credentials stay home). No query,
 * no pagination, no cadence.
 */
export function followTask(
  parent: Source,
  link: Pick<FollowedLink, 'url' | 'from'>,
  previous: Validators | undefined,
  estimateMs: number,
): CollectorTask {
  const follow = parent.follow;
  if (follow === undefined) throw new TypeError(`source ${parent.id} follows no links`);
  const home = new URL(parent.url);
  const target = new URL(link.url);
  const sameOrigin = target.origin === home.origin;
  const source: Source = {
    id: followTaskId(parent.id, link.url),
    url: link.url,
    format: follow.format,
    options: follow.options,
    timeoutMs: parent.timeoutMs,
    allowPrivateNetwork: parent.allowPrivateNetwork && target.hostname === home.hostname,
    ...(follow.key !== undefined ? { key: follow.key } : {}),
    ...(parent.maxBytes !== undefined ? { maxBytes: parent.maxBytes } : {}),
    ...(sameOrigin && parent.headers !== undefined ? { headers: parent.headers } : {}),
    ...(sameOrigin && parent.basicAuth !== undefined ? { basicAuth: parent.basicAuth } : {}),
    ...(parent.allowLiteralCredentials ? { allowLiteralCredentials: true } : {}),
    ...(parent.respectRobotsTxt ? { respectRobotsTxt: true } : {}),
    ...(parent.userAgent !== undefined ? { userAgent: parent.userAgent } : {}),
  };
  return {
    source,
    ...(previous !== undefined ? { previous } : {}),
    estimateMs,
    link: { sourceId: parent.id, from: link.from },
  };
}

/** Every detail task the run's hops recorded, by task id (the first record of each wins). */
export function followedLinks(results: readonly BatchResult[]): Map<string, FollowedLink> {
  const links = new Map<string, FollowedLink>();
  for (const result of results) {
    for (const batch of result.followed ?? []) {
      for (const link of batch.links) if (!links.has(link.id)) links.set(link.id, link);
    }
  }
  return links;
}

/** The detail batches a hop started or handed on, each with the ids of its tasks. */
export function followedTaskIds(batch: FollowedBatch): string[] {
  return batch.links.map((link) => link.id);
}

/**
 * A source's detail state after a run that read its pages: the validators of the detail
 * pages that run followed, each from its newest outcome (a failed one keeps what was known),
 * and none of the pages its pages no longer link. Undefined when the run followed none.
 */
export function mergeFollowState(
  previous: SourceState['follow'],
  links: readonly FollowedLink[],
  outcomes: ReadonlyMap<string, TaskOutcome>,
): SourceState['follow'] {
  if (links.length === 0) return undefined;
  const next: Record<string, Validators> = {};
  for (const link of links) {
    const hash = linkHash(link.url);
    const outcome = outcomes.get(link.id);
    const known = previous?.[hash];
    if (outcome !== undefined && outcome.status !== 'failed') {
      if (Object.keys(outcome.validators).length > 0) next[hash] = { ...outcome.validators };
    } else if (known !== undefined) {
      next[hash] = known;
    }
  }
  return next;
}

/** How detail pages are spread when a payload does not say (a replayed batch). */
export const DEFAULT_FOLLOW_SPREAD = { tasksPerBatch: 200, maxBatches: 20 } as const;

/**
 * The tasks a hop's record says it handed on (`followed`), rebuilt from the tasks of the hop
 * that found them: a retried hop, and a replay, send the same ones. A link whose source is not
 * among `parents` (no longer in the manifest) is left out.
 */
export function tasksOfFollowed(
  batch: FollowedBatch,
  parents: ReadonlyMap<string, Pick<CollectorTask, 'source' | 'follow' | 'estimateMs'>>,
): CollectorTask[] {
  return batch.links.flatMap((link) => {
    const parent = parents.get(link.sourceId);
    if (parent === undefined || parent.source.follow === undefined) return [];
    return [
      followTask(
        parent.source,
        link,
        parent.follow?.previous?.[linkHash(link.url)],
        parent.estimateMs,
      ),
    ];
  });
}

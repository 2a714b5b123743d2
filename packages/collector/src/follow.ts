import {
  type CollectorPayload,
  type CollectorTask,
  DEFAULT_FOLLOW_SPREAD,
  type FollowCounts,
  type FollowedBatch,
  type FollowedLink,
  followableUrl,
  followBatchId,
  followedOrigins,
  followTask,
  followTaskId,
  linkHash,
  MAX_FOLLOW_BATCHES_PER_HOP,
  type OriginAllowance,
  type OriginAllowances,
  originOf,
  pageAddress,
  splitLimit,
} from '@fanout/shared';
import type { FetchedPage } from './fetch-source.js';
import type { OriginGate } from './origin-gate.js';

/**
 * Detail pages found by a hop and handed on (`follow`). A task of a source that follows
 * links reads them from its pages (the HTML library is loaded only then); at the end of the
 * hop they are spread over new batches of the run, or join the hop's own continuation when
 * it still works their origin under that origin's limit, and the hop's record names every one
 * of them before any is started.
 */

/** The links a task's pages hold, as its detail tasks will fetch them. */
export interface Discovered {
  readonly task: CollectorTask;
  readonly links: readonly FollowedLink[];
  readonly counts: FollowCounts;
  /** How long one page of the source took: the detail tasks' estimate. */
  readonly estimateMs: number;
}

/**
 * The links `task`'s pages hold that its `follow` takes: resolved, on the source's origin or
 * one its `follow.origins` lists, each once (in page order), at most its limit this run.
 */
export async function discoverLinks(
  task: CollectorTask,
  pages: readonly FetchedPage[],
  scrub: (text: string) => string,
): Promise<{ links: FollowedLink[]; counts: FollowCounts }> {
  const { source } = task;
  const follow = source.follow;
  if (follow === undefined) return { links: [], counts: { found: 0, followed: 0 } };
  // The HTML library is loaded only by a source that follows links (or paginates HTML).
  const { htmlLinks } = await import('./html-next.js');
  const origins = followedOrigins(source);
  const max = task.follow?.max ?? follow.max;
  const seen = new Set<string>();
  const links: FollowedLink[] = [];
  for (const page of pages) {
    const contentType = page.headers['content-type'];
    const references = await htmlLinks(
      source.id,
      {
        url: page.answeredUrl,
        body: page.body,
        ...(contentType !== undefined ? { contentType } : {}),
      },
      follow.links,
    );
    for (const reference of references) {
      const url = followableUrl(reference);
      if (url === undefined || seen.has(url)) continue;
      const origin = originOf(url);
      if (origin === undefined || !origins.has(origin)) continue;
      seen.add(url);
      if (links.length < max) {
        const fetched = scrub(url);
        links.push({
          id: followTaskId(source.id, fetched),
          sourceId: source.id,
          url: fetched,
          from: pageAddress(scrub(page.answeredUrl.href)),
        });
      }
    }
  }
  return { links, counts: { found: seen.size, followed: links.length } };
}

/** What the end of a hop does with the detail pages its tasks found. */
export interface FollowPlan {
  /** Recorded in the hop's record. */
  readonly followed: FollowedBatch[];
  /** Detail tasks that go on in the hop's own continuation. */
  readonly joined: CollectorTask[];
  /** New batches of the run, to start once the record is stored. */
  readonly batches: CollectorPayload[];
  /** The shares the continuation keeps (what was handed to new batches is no longer its own). */
  readonly continuationOrigins: OriginAllowances | undefined;
}

/** `items` cut into `parts` runs of even length, in order. */
function chunks<T>(items: readonly T[], parts: number): T[][] {
  const out: T[][] = [];
  const size = Math.ceil(items.length / parts);
  for (let start = 0; start < items.length; start += size)
    out.push(items.slice(start, start + size));
  return out;
}

function withNotBefore(
  allowance: OriginAllowance,
  origin: string,
  gate: OriginGate | undefined,
  now: number,
): OriginAllowance {
  const next = gate?.nextStart(origin) ?? 0;
  const earlier = allowance.notBefore === undefined ? 0 : Date.parse(allowance.notBefore);
  const at = Math.max(next, earlier);
  const { notBefore: _old, ...rest } = allowance;
  return at > now ? { ...rest, notBefore: new Date(at).toISOString() } : rest;
}

/**
 * Spreads the detail pages a hop found, origin by origin:
 * - on a limited origin (the payload holds a share of it) that the continuation still has
 *   tasks for, they join the continuation, which keeps the share: hops never overlap, so the
 *   limit holds;
 * - otherwise over new batches, `tasksPerBatch` each, at most `maxBatches` (and, on a limited
 *   origin, no more than its share's concurrency), and the share is split among them, each
 *   starting no sooner than the pace this hop reached. The continuation gives that origin up.
 */
export function planFollow(
  payload: CollectorPayload,
  discovered: readonly Discovered[],
  unfinished: readonly CollectorTask[],
  gate: OriginGate | undefined,
  now: number,
): FollowPlan {
  const byOrigin = new Map<string, { link: FollowedLink; task: CollectorTask }[]>();
  for (const { task: parent, links, estimateMs } of discovered) {
    for (const link of links) {
      const origin = new URL(link.url).origin;
      const task = followTask(
        parent.source,
        link,
        parent.follow?.previous?.[linkHash(link.url)],
        estimateMs,
      );
      const group = byOrigin.get(origin) ?? [];
      group.push({ link, task });
      byOrigin.set(origin, group);
    }
  }
  const spread = payload.followSpread ?? DEFAULT_FOLLOW_SPREAD;
  const continuationOrigins: OriginAllowances = { ...payload.origins };
  const followed: FollowedBatch[] = [];
  const joined: CollectorTask[] = [];
  const batches: CollectorPayload[] = [];
  let part = 0;
  for (const [origin, group] of byOrigin) {
    const allowance = payload.origins?.[origin];
    const stillWorked = unfinished.some((task) => originOf(task.source.url) === origin);
    if (allowance !== undefined && stillWorked) {
      joined.push(...group.map((entry) => entry.task));
      followed.push({
        batchId: payload.batchId,
        hop: payload.hop + 1,
        links: group.map((entry) => entry.link),
      });
      continue;
    }
    const wanted = Math.ceil(group.length / spread.tasksPerBatch);
    const parts = Math.max(
      1,
      Math.min(
        wanted,
        spread.maxBatches,
        allowance?.concurrency ?? Number.POSITIVE_INFINITY,
        MAX_FOLLOW_BATCHES_PER_HOP + 1 - part,
      ),
    );
    const shares =
      allowance === undefined
        ? []
        : splitLimit(
            {
              ...(allowance.concurrency !== undefined
                ? { concurrency: allowance.concurrency }
                : {}),
              ...(allowance.perMinute !== undefined ? { perMinute: allowance.perMinute } : {}),
            },
            parts,
          ).map((share) => withNotBefore(share, origin, gate, now));
    if (allowance !== undefined) delete continuationOrigins[origin];
    chunks(group, parts).forEach((chunk, index) => {
      const batchId = followBatchId(payload.batchId, payload.hop, part);
      part += 1;
      const share = shares[index];
      const origins = share === undefined ? undefined : { [origin]: share };
      batches.push({
        version: 1,
        runId: payload.runId,
        scheduledAt: payload.scheduledAt,
        batchId,
        hop: 0,
        tasks: chunk.map((entry) => entry.task),
        ...(origins ? { origins } : {}),
      });
      followed.push({
        batchId,
        hop: 0,
        links: chunk.map((entry) => entry.link),
        ...(origins ? { origins } : {}),
      });
    });
  }
  for (const [origin, allowance] of Object.entries(continuationOrigins)) {
    continuationOrigins[origin] = withNotBefore(allowance, origin, gate, now);
  }
  return {
    followed,
    joined,
    batches,
    continuationOrigins:
      Object.keys(continuationOrigins).length > 0 ? continuationOrigins : undefined,
  };
}

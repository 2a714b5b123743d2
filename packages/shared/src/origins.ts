import * as z from 'zod/mini';

/**
 * Polite per-origin limits, honoured across a whole run. The manifest's top-level
 * `origins` (and the stack's default, the manager's settings) say how hard one origin
 * (scheme://host:port) may be hit by the run; the planner hands each batch a share of it
 * (an `OriginAllowance` in the collector payload) so that the shares of the invocations
 * that may run at once add up to no more than the limit. A continuation inherits its hop's
 * share (hops of a batch never overlap); a hop that fans out detail pages splits its share
 * among the batches it starts.
 */

/** What the manifest may say of an origin. */
export const OriginLimitSchema = /* @__PURE__ */ z.lazy(() =>
  z
    .strictObject({
      /** Requests in flight at once to the origin, over every collector of the run. */
      concurrency: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(1000))),
      /** Requests started per minute to the origin, over every collector of the run. */
      perMinute: z.optional(z.number().check(z.positive(), z.maximum(60_000))),
    })
    .check(
      z.refine((limit) => limit.concurrency !== undefined || limit.perMinute !== undefined, {
        message: 'sets neither concurrency nor perMinute',
      }),
    ),
);
export type OriginLimit = z.infer<typeof OriginLimitSchema>;

/** `scheme://host[:port]` exactly as `new URL(...).origin` writes it, or undefined. */
export function originOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
    return parsed.origin;
  } catch {
    return undefined;
  }
}

export const OriginsSchema = /* @__PURE__ */ z.lazy(() =>
  z.record(z.string(), OriginLimitSchema).check(
    z.superRefine((origins, ctx) => {
      for (const key of Object.keys(origins)) {
        const origin = originOf(key);
        if (origin === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            input: key,
            message:
              'must be an http(s) origin such as "https://shop.example" (scheme, host, port)',
          });
        } else if (
          new URL(key).pathname !== '/' ||
          new URL(key).search !== '' ||
          key.endsWith('/')
        ) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            input: key,
            message: `must be an origin without a path, query or trailing slash: ${JSON.stringify(origin)}`,
          });
        }
      }
    }),
  ),
);
export type Origins = z.infer<typeof OriginsSchema>;

/**
 * One invocation's share of an origin's limit (collector payload `origins`): what this
 * hop, and the hops that continue it, may use.
 */
export const OriginAllowanceSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    concurrency: z.optional(z.number().check(z.int(), z.minimum(1))),
    perMinute: z.optional(z.number().check(z.positive())),
    /** No request to the origin before this instant (the hop before paced up to it). */
    notBefore: z.optional(z.iso.datetime({ offset: true })),
  }),
);
export type OriginAllowance = z.infer<typeof OriginAllowanceSchema>;

export const OriginAllowancesSchema = /* @__PURE__ */ z.lazy(() =>
  z.record(z.string(), OriginAllowanceSchema),
);
export type OriginAllowances = z.infer<typeof OriginAllowancesSchema>;

/** The limit of `origin`: the manifest's entry for it, else the stack's default, else none. */
export function limitOf(
  origin: string,
  origins: Readonly<Record<string, OriginLimit>>,
  stackDefault: OriginLimit | undefined,
): OriginLimit | undefined {
  return origins[origin] ?? stackDefault;
}

/**
 * `limit` split `parts` ways: concurrency as evenly as whole requests allow (the first
 * shares get the remainder), the rate in proportion to each share's concurrency (evenly
 * when there is no concurrency limit). `parts` must not exceed the concurrency.
 */
export function splitLimit(limit: OriginLimit, parts: number): OriginAllowance[] {
  const shares: OriginAllowance[] = [];
  const { concurrency, perMinute } = limit;
  for (let part = 0; part < parts; part += 1) {
    const share =
      concurrency === undefined
        ? undefined
        : Math.floor(concurrency / parts) + (part < concurrency % parts ? 1 : 0);
    const rate =
      perMinute === undefined
        ? undefined
        : share === undefined || concurrency === undefined
          ? perMinute / parts
          : (perMinute * share) / concurrency;
    shares.push({
      ...(share !== undefined ? { concurrency: share } : {}),
      ...(rate !== undefined ? { perMinute: rate } : {}),
    });
  }
  return shares;
}

/** How many invocations may share `limit` at once: its concurrency, else unbounded. */
export function maxSharers(limit: OriginLimit | undefined): number {
  return limit?.concurrency ?? Number.POSITIVE_INFINITY;
}

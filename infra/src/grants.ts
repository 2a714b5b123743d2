import {
  type FunctionId,
  INVALID_EVENTS_PREFIX,
  offScheduleLogKey,
  PREFIXES,
  sourceStateKey,
  type Topology,
} from '@fanout/shared';

/**
 * The object keys one function reads and writes, as IAM key patterns (`*` matches
 * any run of characters, `/` included). Narrower than the topology's prefixes: a
 * function may write only its own records, so a bug or a stolen session in one
 * function cannot overwrite another's run records.
 */
export interface ObjectGrants {
  /** GetObject (and HeadObject, which IAM checks as GetObject). */
  readonly reads: readonly string[];
  /** PutObject and AbortMultipartUpload. */
  readonly writes: readonly string[];
  /** DeleteObject: only temporary keys a function cleans up after itself. */
  readonly deletes?: readonly string[];
}

/** Any run: `runs/<runId>/...`. */
const ANY_RUN = `${PREFIXES.runs}*/`;
/** Packs, one per collector hop; the manager reads their headers (the hop's outcomes). */
const PACKS = `${PREFIXES.raw}packs/*`;

/**
 * The bucket layout of packages/shared/src/keys.ts, split by owner:
 *   manager    runs/<run>/run.json, runs/<run>/failures/* (batches it could not dispatch),
 *              runs/<run>/redispatches/* (hops that never reported, sent again), runs/_invalid/*,
 *              state/off-schedule.json (a manual run logs itself there for the next run)
 *   collector  raw/* (packs and single objects), runs/<run>/failures/*,
 *              runs/_invalid/* (a payload too malformed to name its run)
 * runs/<run>/results/* holds hop records of earlier versions (a hop that packed nothing);
 * the manager still reads them, nothing writes them now.
 *   parser     parsed/*, quarantine/*, runs/_invalid/*
 * The manager no longer writes state/; it still reads state/sources.json once, to
 * migrate a bucket from before run manifests carried the state.
 */
export function objectGrants(topo: Topology): { readonly [K in FunctionId]: ObjectGrants } {
  const runManifests = `${ANY_RUN}run.json`;
  const results = `${ANY_RUN}results/*`;
  const failures = `${ANY_RUN}failures/*`;
  const redispatches = `${ANY_RUN}redispatches/*`;
  const invalid = `${INVALID_EVENTS_PREFIX}*`;
  const partials = `${ANY_RUN}partial/*`;
  return {
    manager: {
      // Merging a run reads each hop's record: pack header, batch result, failure, redispatch.
      reads: [
        topo.manifestKey,
        sourceStateKey(),
        offScheduleLogKey(),
        runManifests,
        results,
        failures,
        redispatches,
        PACKS,
      ],
      writes: [runManifests, failures, redispatches, invalid, offScheduleLogKey()],
    },
    collector: {
      // Validators and hashes arrive in the payload; the collector reads back (and then
      // deletes) only a partial download it stored at a deadline, to resume it, and the
      // header of a hop's pack another attempt already stored (it hands on from there).
      reads: [partials, PACKS],
      writes: [`${PREFIXES.raw}*`, failures, invalid, partials],
      deletes: [partials],
    },
    parser: {
      reads: [`${PREFIXES.raw}*`],
      writes: [`${PREFIXES.parsed}*`, `${PREFIXES.quarantine}*`, invalid],
    },
  };
}

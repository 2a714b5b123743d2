import {
  type FunctionId,
  gbSeconds,
  type MonthlyUsage,
  monthlyBill,
  parsePackKey,
  type RunRecords,
  S3_GET_TIER,
  S3_PUT_TIER,
  type Schedule,
  type Topology,
  topology,
} from '@fanout/shared';
import { runTimeline } from './timeline.js';

/**
 * What one run used, as far as its records tell. Counted exactly: invocations of the
 * collector (one per hop record) and the parser (one per raw object), and the S3 writes
 * the records stand for. Estimated (said so in `ESTIMATE_NOTES`): durations, and the
 * reads the manager and parser make.
 */
export interface FunctionUsage {
  readonly invocations: number;
  /** Sum of billed durations, each invocation rounded up to 1 ms. */
  readonly billedMs: number;
  readonly memoryMb: number;
}

export type S3Operation = 'PUT' | 'COPY' | 'GET' | 'HEAD' | 'LIST';

/** One line of the request model: who makes which request how often per run. */
export interface S3RequestLine {
  readonly by: FunctionId;
  readonly what: string;
  readonly op: S3Operation;
  readonly count: number;
}

export interface RunUsage {
  readonly runId: string;
  readonly functions: { readonly [K in FunctionId]: FunctionUsage };
  readonly s3: readonly S3RequestLine[];
  /** Bytes the run left in the bucket (see `storedBytesOfRun`). */
  readonly storedBytes: number;
}

export const ESTIMATE_NOTES = [
  'manager: 1 invocation per run (self-invocations of a two-level fan-out are not in the records); billed from the run manifest write to the first collector task (planning before the write is not recorded)',
  'collector: 1 invocation per hop record; billed from its first task start (finishedAt - durationMs) to the record writtenAt (init and setup before the first task are not recorded)',
  'parser: 1 invocation per raw object; billed from the object being stored to its parse outcome (parsedAt), an upper bound that includes notification delay and queueing',
  'manager reads per run: the source manifest, the previous run manifest and one record per hop of the previous run (this run stands in for it: 1 GET per packed hop, 2 per hop with a results record)',
  'parser reads: 1 GET per raw object; parsed objects over 8 MiB (multipart plus a metadata copy) are counted as one PUT',
  'S3 free tier and Lambda retries or duplicate deliveries are not modelled; storage is the bytes one run adds, kept for the month',
];

const billed = (ms: number) => Math.max(1, Math.ceil(ms));

/** The usage of one run, from its records and the bytes it stored. */
export function runUsage(
  runId: string,
  records: RunRecords,
  storedBytes: number,
  topo: Topology = topology,
): RunUsage {
  const timeline = runTimeline(records);
  const hops = timeline.hops;
  const manager = timeline.manager;
  const singles = new Set<string>();
  for (const result of records.results) {
    for (const outcome of result.outcomes) {
      if (outcome.status !== 'ok') continue;
      for (const key of outcome.rawKeys) if (!parsePackKey(key)) singles.add(key);
    }
  }
  let parsedObjects = 0;
  let wholeQuarantines = 0;
  let quarantinedEntries = 0;
  for (const raw of records.rawOutcomes.values()) {
    if (raw.status === 'quarantined') wholeQuarantines += 1;
    else {
      parsedObjects += 1;
      quarantinedEntries += raw.outcome.quarantined;
    }
  }
  const packedHops = hops.filter((hop) => hop.packed).length;
  const lines: S3RequestLine[] = [
    { by: 'manager', what: 'run manifest', op: 'PUT', count: records.manifest ? 1 : 0 },
    { by: 'manager', what: 'failure records', op: 'PUT', count: records.failures.length },
    { by: 'manager', what: 'source manifest + previous run manifest', op: 'GET', count: 2 },
    {
      by: 'manager',
      what: "previous run's hop records",
      op: 'GET',
      count: packedHops + 2 * (hops.length - packedHops),
    },
    { by: 'collector', what: 'packs', op: 'PUT', count: packedHops },
    { by: 'collector', what: 'results records', op: 'PUT', count: hops.length - packedHops },
    { by: 'collector', what: 'single raw objects', op: 'PUT', count: singles.size },
    { by: 'parser', what: 'raw objects read', op: 'GET', count: records.rawOutcomes.size },
    { by: 'parser', what: 'parsed objects', op: 'PUT', count: parsedObjects },
    { by: 'parser', what: 'quarantined objects: copy', op: 'COPY', count: wholeQuarantines },
    {
      by: 'parser',
      what: 'quarantine reports and entry copies',
      op: 'PUT',
      count: wholeQuarantines + 2 * quarantinedEntries,
    },
  ];
  const parses = timeline.parses;
  return {
    runId,
    functions: {
      manager: {
        invocations: records.manifest ? 1 : 0,
        billedMs: manager ? billed(manager.endMs - manager.startMs) : 0,
        memoryMb: topo.functions.manager.memoryMb,
      },
      collector: {
        invocations: hops.length,
        billedMs: hops.reduce((sum, hop) => sum + billed(hop.endMs - hop.startMs), 0),
        memoryMb: topo.functions.collector.memoryMb,
      },
      parser: {
        invocations: records.rawOutcomes.size,
        billedMs: parses.reduce((sum, parse) => sum + billed(parse.endMs - parse.startMs), 0),
        memoryMb: topo.functions.parser.memoryMb,
      },
    },
    s3: lines,
    storedBytes,
  };
}

export function requestsByOperation(lines: readonly S3RequestLine[]): Record<S3Operation, number> {
  const out: Record<S3Operation, number> = { PUT: 0, COPY: 0, GET: 0, HEAD: 0, LIST: 0 };
  for (const line of lines) out[line.op] += line.count;
  return out;
}

const MONTH_MS = 30 * 24 * 60 * 60 * 1000;
/** A cron that fires every minute fires 43,200 times in 30 days. */
const MAX_FIRES = 50_000;

/** Fire times of a schedule in the 30 days from `from` (a rate: 30 days over its period). */
export function runsPerMonth(schedule: Schedule, from: Date): number {
  if (schedule.periodMs !== undefined) return MONTH_MS / schedule.periodMs;
  const end = from.getTime() + MONTH_MS;
  let count = 0;
  for (let at = schedule.next(from); at && at.getTime() <= end && count < MAX_FIRES; ) {
    count += 1;
    at = schedule.next(at);
  }
  return count;
}

const GB = 1024 ** 3;

export interface MonthlyEstimate {
  readonly runsSampled: readonly string[];
  readonly runsPerMonth: number;
  /** Per run, averaged over the sampled runs. */
  readonly perRun: {
    readonly functions: { readonly [K in FunctionId]: FunctionUsage };
    readonly s3: readonly S3RequestLine[];
    readonly s3ByOperation: Record<S3Operation, number>;
    readonly storedBytes: number;
  };
  /** Its storageGb: what the month's runs add, held for the month (an upper bound for a first month). */
  readonly month: MonthlyUsage;
  readonly usd: {
    readonly lambdaRequests: number;
    readonly lambdaDuration: number;
    readonly s3PutTier: number;
    readonly s3GetTier: number;
    readonly storage: number;
    readonly total: number;
    /** The total with Lambda's monthly free tier taken off. */
    readonly totalWithFreeTier: number;
  };
}

function average(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, v) => sum + v, 0) / values.length;
}

export { gbSeconds };

/** The monthly estimate: the sampled runs' average usage, `runs` times a month, at prices.ts. */
export function monthlyEstimate(usages: readonly RunUsage[], runs: number): MonthlyEstimate {
  const ids: FunctionId[] = ['manager', 'collector', 'parser'];
  const functions = Object.fromEntries(
    ids.map((id) => [
      id,
      {
        invocations: average(usages.map((u) => u.functions[id].invocations)),
        billedMs: average(usages.map((u) => u.functions[id].billedMs)),
        memoryMb: usages[0]?.functions[id].memoryMb ?? topology.functions[id].memoryMb,
      },
    ]),
  ) as { [K in FunctionId]: FunctionUsage };
  const template = usages[0]?.s3 ?? [];
  const s3 = template.map((line, index) => ({
    ...line,
    count: average(usages.map((u) => u.s3[index]?.count ?? 0)),
  }));
  const s3ByOperation = requestsByOperation(s3);
  const storedBytes = average(usages.map((u) => u.storedBytes));
  const fns = Object.values(functions);
  const lambdaRequests = fns.reduce((sum, fn) => sum + fn.invocations, 0) * runs;
  const lambdaGbSeconds = fns.reduce((sum, fn) => sum + gbSeconds(fn), 0) * runs;
  const sumOps = (ops: readonly string[]) =>
    ops.reduce((sum, op) => sum + (s3ByOperation[op as S3Operation] ?? 0), 0) * runs;
  const s3PutTierRequests = sumOps(S3_PUT_TIER);
  const s3GetTierRequests = sumOps(S3_GET_TIER);
  const storageGb = (storedBytes * runs) / GB;
  const bill = monthlyBill({
    lambdaRequests,
    lambdaGbSeconds,
    s3PutTierRequests,
    s3GetTierRequests,
    storageGb,
  });
  return {
    runsSampled: usages.map((u) => u.runId),
    runsPerMonth: runs,
    perRun: { functions, s3, s3ByOperation, storedBytes },
    month: { lambdaRequests, lambdaGbSeconds, s3PutTierRequests, s3GetTierRequests, storageGb },
    usd: {
      lambdaRequests: bill.lambdaRequests,
      lambdaDuration: bill.lambdaDuration,
      s3PutTier: bill.s3PutTier,
      s3GetTier: bill.s3GetTier,
      storage: bill.storage,
      total: bill.total,
      totalWithFreeTier: bill.withFreeTier.total,
    },
  };
}

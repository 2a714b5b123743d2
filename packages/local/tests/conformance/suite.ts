import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { type Credentials, rawS3Request } from '@fanout/local-s3';
import type { CaseContext, ConformanceCase, Seeded } from './case.js';
import { lambdaCases } from './lambda-cases.js';
import { parameterCases } from './parameter-cases.js';
import { s3Cases } from './s3-cases.js';

/** Every case, in one list: S3, Lambda Invoke, SSM, Secrets Manager. */
export const CONFORMANCE_CASES: readonly ConformanceCase[] = [
  ...s3Cases,
  ...lambdaCases,
  ...parameterCases,
];

/** A server the cases run against. Services it lacks are reported "not run", with why. */
export interface ConformanceTarget {
  readonly name: string;
  readonly region: string;
  readonly credentials: Credentials;
  readonly s3Endpoint?: string;
  readonly notifiedBucket?: string;
  readonly lambdaEndpoint?: string;
  readonly functionName?: string;
  readonly functionArn?: string;
  readonly ssmEndpoint?: string;
  readonly secretsEndpoint?: string;
  readonly seeded?: Seeded;
  /** Why a service is not run on this target (e.g. moto runs Lambda functions in Docker). */
  readonly notRun?: Partial<Record<ConformanceCase['service'], string>>;
}

export type CaseOutcome =
  | { readonly kind: 'pass' }
  | { readonly kind: 'fail'; readonly message: string }
  | { readonly kind: 'not-run'; readonly reason: string };

const ENDPOINT_OF: Record<ConformanceCase['service'], keyof ConformanceTarget> = {
  S3: 's3Endpoint',
  Lambda: 'lambdaEndpoint',
  SSM: 'ssmEndpoint',
  SecretsManager: 'secretsEndpoint',
};

const CASE_TIMEOUT_MS = 120_000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs every case against the target, one at a time, in a bucket of its own. */
export async function runConformance(
  target: ConformanceTarget,
  cases: readonly ConformanceCase[] = CONFORMANCE_CASES,
): Promise<Map<string, CaseOutcome>> {
  const bucket = `conformance-${Date.now().toString(36)}`;
  const s3 = target.s3Endpoint
    ? new S3Client({
        endpoint: target.s3Endpoint,
        region: target.region,
        credentials: target.credentials,
        forcePathStyle: true,
        maxAttempts: 1,
      })
    : undefined;
  const outcomes = new Map<string, CaseOutcome>();
  try {
    if (s3) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const context: CaseContext = {
      target: target.name,
      region: target.region,
      credentials: target.credentials,
      bucket,
      ...(target.s3Endpoint ? { s3Endpoint: target.s3Endpoint } : {}),
      ...(s3 ? { s3 } : {}),
      ...(target.notifiedBucket ? { notifiedBucket: target.notifiedBucket } : {}),
      ...(target.lambdaEndpoint ? { lambdaEndpoint: target.lambdaEndpoint } : {}),
      ...(target.functionName ? { functionName: target.functionName } : {}),
      ...(target.functionArn ? { functionArn: target.functionArn } : {}),
      ...(target.ssmEndpoint ? { ssmEndpoint: target.ssmEndpoint } : {}),
      ...(target.secretsEndpoint ? { secretsEndpoint: target.secretsEndpoint } : {}),
      ...(target.seeded ? { seeded: target.seeded } : {}),
      raw: (request) =>
        rawS3Request(target.s3Endpoint ?? 'http://127.0.0.1:9', target.region, request),
    };
    for (const testCase of cases) {
      const reason = target.notRun?.[testCase.service];
      if (reason !== undefined || target[ENDPOINT_OF[testCase.service]] === undefined) {
        outcomes.set(testCase.id, {
          kind: 'not-run',
          reason: reason ?? `no ${testCase.service} endpoint`,
        });
        continue;
      }
      try {
        await withTimeout(testCase.run(context), CASE_TIMEOUT_MS, testCase.id);
        outcomes.set(testCase.id, { kind: 'pass' });
      } catch (error) {
        const message = (error instanceof Error ? error.message : String(error))
          .replace(/\s+/g, ' ')
          .slice(0, 400);
        outcomes.set(testCase.id, { kind: 'fail', message });
      }
    }
  } finally {
    s3?.destroy();
  }
  return outcomes;
}

function mark(outcome: CaseOutcome | undefined): string {
  if (!outcome) return '-';
  if (outcome.kind === 'pass') return 'pass';
  if (outcome.kind === 'fail') return 'FAIL';
  return 'not run';
}

/**
 * The comparison as text: one line per case (documented behaviour, each target's
 * outcome), where the targets disagree with the documentation or each other, and
 * the counts. The first target is the one under test.
 */
export function formatConformance(
  results: readonly { target: string; outcomes: Map<string, CaseOutcome> }[],
  cases: readonly ConformanceCase[] = CONFORMANCE_CASES,
): string {
  const lines: string[] = [];
  const width = Math.max(...cases.map((c) => c.id.length));
  lines.push(`${'case'.padEnd(width)}  ${results.map((r) => r.target.padEnd(8)).join('  ')}`);
  for (const testCase of cases) {
    const cells = results.map((r) => mark(r.outcomes.get(testCase.id)).padEnd(8));
    const diverges = testCase.localDivergence ? '  (kept divergence)' : '';
    lines.push(`${testCase.id.padEnd(width)}  ${cells.join('  ')}${diverges}`);
  }
  lines.push('');
  lines.push('Where a target differs from the documented behaviour:');
  let differences = 0;
  for (const testCase of cases) {
    for (const { target, outcomes } of results) {
      const outcome = outcomes.get(testCase.id);
      if (outcome?.kind === 'fail') {
        differences += 1;
        const note =
          testCase.localDivergence && target === results[0]?.target
            ? ` [kept: ${testCase.localDivergence}]`
            : '';
        lines.push(
          `  ${target} is wrong on ${testCase.id}: ${testCase.documented}; got: ${outcome.message}${note}`,
        );
      }
    }
  }
  if (differences === 0) lines.push('  none');
  for (const { target, outcomes } of results.slice(1)) {
    const notRun = cases.filter((c) => outcomes.get(c.id)?.kind === 'not-run');
    const reasons = [
      ...new Set(notRun.map((c) => (outcomes.get(c.id) as { reason: string }).reason)),
    ];
    if (notRun.length > 0)
      lines.push(`  ${target}: ${notRun.length} cases not run (${reasons.join('; ')})`);
  }
  lines.push('');
  for (const { target, outcomes } of results) {
    const run = cases.filter((c) => outcomes.get(c.id)?.kind !== 'not-run');
    const passed = run.filter((c) => outcomes.get(c.id)?.kind === 'pass').length;
    lines.push(`conformance ${target}: ${passed}/${cases.length} cases pass (${run.length} run)`);
  }
  const [first, ...others] = results;
  for (const other of others) {
    if (!first) break;
    const both = cases.filter(
      (c) =>
        first.outcomes.get(c.id)?.kind !== 'not-run' &&
        other.outcomes.get(c.id)?.kind !== 'not-run',
    );
    const agree = both.filter(
      (c) => first.outcomes.get(c.id)?.kind === other.outcomes.get(c.id)?.kind,
    ).length;
    lines.push(
      `agreement ${first.target} / ${other.target}: ${agree}/${both.length} cases run on both give the same outcome`,
    );
  }
  return lines.join('\n');
}

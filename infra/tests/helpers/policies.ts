import type { PolicyDocument, PolicyStatement } from '../../src/policy.js';
import type { RecordedResource } from './pulumi-mocks.js';

/** The policy document of a recorded RolePolicy, BucketPolicy or Role (assumeRolePolicy). */
export function policyOf(resource: RecordedResource, field = 'policy'): PolicyDocument {
  const text = resource.inputs[field];
  if (typeof text !== 'string') throw new Error(`${resource.name}.${field} is not a JSON string`);
  return JSON.parse(text) as PolicyDocument;
}

export function asList(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return typeof value === 'string' ? [value] : [...value];
}

export function statementsWithAction(document: PolicyDocument, action: string): PolicyStatement[] {
  return document.Statement.filter((statement) => asList(statement.Action).includes(action));
}

/** Resources of every Allow statement that grants `action`. */
export function resourcesFor(document: PolicyDocument, action: string): string[] {
  return statementsWithAction(document, action)
    .filter((statement) => statement.Effect === 'Allow')
    .flatMap((statement) => asList(statement.Resource));
}

/**
 * Why a granted resource is too broad, or undefined when it is scoped. A `*` is
 * accepted only in an object key after a literal top-level prefix
 * (`bucket/raw/*`, or `bucket/runs/` followed by `*` and `/run.json`) or as the last character of a log
 * group (`log-group:/aws/lambda/x:*`): anywhere else it widens the grant to other
 * buckets, prefixes, accounts, regions or functions.
 */
export function resourceScopeProblem(resource: string): string | undefined {
  if (resource === '*') return 'is *';
  if (!resource.startsWith('arn:aws:')) return 'is not an ARN';
  const star = resource.indexOf('*');
  if (star === -1) return undefined;
  const objectHead = /^arn:aws:s3:::[a-z0-9.-]+\/[a-z]+\//.exec(resource);
  if (objectHead && star >= objectHead[0].length) return undefined;
  if (star !== resource.length - 1) return 'has a * before its end';
  if (
    /^arn:aws:logs:[a-z0-9-]+:\d{12}:log-group:\/aws\/lambda\/[A-Za-z0-9_-]+:\*$/.test(resource)
  ) {
    return undefined;
  }
  return 'ends in a * that is not an object prefix or a log group';
}

/** The key patterns of object ARNs: `arn:aws:s3:::b/raw/*` -> `raw/*`. */
export function keyPatternsOf(objectArns: readonly string[]): string[] {
  return objectArns.map((arn) => {
    const match = /^arn:aws:s3:::[^/]+\/(.+)$/.exec(arn);
    if (!match?.[1]) throw new Error(`not an object ARN: ${arn}`);
    return match[1];
  });
}

/** IAM's wildcard match: `*` is any run of characters (`/` included), `?` one character. */
export function keyMatches(pattern: string, key: string): boolean {
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`).test(key);
}

/** The part of a key pattern before its first wildcard: every key it matches starts with it. */
export function literalHead(pattern: string): string {
  const wildcard = pattern.search(/[*?]/);
  return wildcard === -1 ? pattern : pattern.slice(0, wildcard);
}

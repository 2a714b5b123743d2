import { readFileSync } from 'node:fs';
import {
  parseManifestText,
  parseSecretReference,
  type SecretService,
  secretReferencesOf,
} from '@fanout/shared';
import type { PolicyDocument, PolicyStatement } from './policy.js';

/** The secrets a manifest references, by service, each name once, sorted. */
export interface ReferencedSecrets {
  /** SSM parameter names, as written (`/fanout/api-token`). */
  readonly parameters: readonly string[];
  /** Secrets Manager names or ARNs. */
  readonly secrets: readonly string[];
}

/** Every secret the sources of a manifest file reference (the file is validated in config.ts). */
export function referencedSecrets(manifestFile: string): ReferencedSecrets {
  const { sources } = parseManifestText(readFileSync(manifestFile, 'utf8'));
  const byService: Record<SecretService, Set<string>> = {
    ssm: new Set(),
    secretsmanager: new Set(),
  };
  for (const source of sources) {
    for (const reference of secretReferencesOf(source)) {
      const parsed = parseSecretReference(reference.secret);
      if (parsed) byService[parsed.service].add(parsed.name);
    }
  }
  return {
    parameters: [...byService.ssm].sort(),
    secrets: [...byService.secretsmanager].sort(),
  };
}

export interface SecretsGrantScope {
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
  /**
   * A customer managed KMS key that encrypts the parameters or secrets. Absent: the
   * AWS managed keys (aws/ssm, aws/secretsmanager), which need no kms:Decrypt grant.
   */
  readonly kmsKeyArn?: string | undefined;
}

/** `arn:aws:ssm:<region>:<account>:parameter/<name without its leading slash>`. */
export function parameterArn(scope: SecretsGrantScope, name: string): string {
  const path = name.startsWith('/') ? name.slice(1) : name;
  return `arn:${scope.partition}:ssm:${scope.region}:${scope.accountId}:parameter/${path}`;
}

/**
 * A secret's ARN pattern. Secrets Manager appends `-` and six random characters to
 * every secret ARN, so a name matches `<name>-??????` (never `*`, which would also
 * match `<name>-other`). A full ARN is granted as written.
 */
export function secretArn(scope: SecretsGrantScope, nameOrArn: string): string {
  if (nameOrArn.startsWith('arn:')) return nameOrArn;
  return `arn:${scope.partition}:secretsmanager:${scope.region}:${scope.accountId}:secret:${nameOrArn}-??????`;
}

/**
 * What the collector may read to resolve the manifest's secret references: only
 * the named parameters and secrets, and kms:Decrypt on the customer managed key
 * only when SSM or Secrets Manager asks for it (kms:ViaService). Undefined when the
 * manifest references no secret: the role then gets no secret access at all.
 */
export function secretsPolicy(
  referenced: ReferencedSecrets,
  scope: SecretsGrantScope,
): PolicyDocument | undefined {
  const { parameters, secrets } = referenced;
  if (parameters.length === 0 && secrets.length === 0) return undefined;
  const statements: PolicyStatement[] = [];
  const viaServices: string[] = [];
  if (parameters.length > 0) {
    statements.push({
      Sid: 'ReadReferencedParameters',
      Effect: 'Allow',
      Action: ['ssm:GetParameter', 'ssm:GetParameters'],
      Resource: parameters.map((name) => parameterArn(scope, name)),
    });
    viaServices.push(`ssm.${scope.region}.amazonaws.com`);
  }
  if (secrets.length > 0) {
    statements.push({
      Sid: 'ReadReferencedSecrets',
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue'],
      Resource: secrets.map((name) => secretArn(scope, name)),
    });
    viaServices.push(`secretsmanager.${scope.region}.amazonaws.com`);
  }
  if (scope.kmsKeyArn) {
    statements.push({
      Sid: 'DecryptReferencedSecretsThroughTheirService',
      Effect: 'Allow',
      Action: ['kms:Decrypt'],
      Resource: [scope.kmsKeyArn],
      Condition: { StringEquals: { 'kms:ViaService': viaServices } },
    });
  }
  return { Version: '2012-10-17', Statement: statements };
}

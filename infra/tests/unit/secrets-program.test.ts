import { beforeAll, describe, expect, it } from 'vitest';
import { asList, policyOf, resourceScopeProblem } from '../helpers/policies.js';
import {
  ACCOUNT_ID,
  installMocks,
  ofType,
  REGION,
  type RecordedResource,
  registrationsSettled,
} from '../helpers/pulumi-mocks.js';

const KMS_KEY = `arn:aws:kms:${REGION}:${ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

let resources: RecordedResource[];

beforeAll(async () => {
  resources = await installMocks(
    { sourcesFile: 'tests/fixtures/sources-with-secrets.json', secretsKmsKeyArn: KMS_KEY },
    'secrets',
  );
  await import('../../src/index.js');
  await registrationsSettled();
});

function rolePolicy(name: string): RecordedResource {
  const found = ofType(resources, 'aws:iam/rolePolicy:RolePolicy').find((r) => r.name === name);
  if (!found) throw new Error(`no role policy ${name}`);
  return found;
}

describe('a manifest that references secrets', () => {
  it('grants the collector role, and only it, read access to exactly the referenced names', () => {
    // Prepare
    const policies = ofType(resources, 'aws:iam/rolePolicy:RolePolicy');
    const secretActions = /^(ssm|secretsmanager|kms):/;

    // Act
    const granting = policies.filter((p) =>
      policyOf(p).Statement.some((s) => asList(s.Action).some((a) => secretActions.test(a))),
    );
    const policy = policyOf(rolePolicy('fanout-collector-secrets'));

    // Assess
    expect(granting.map((p) => p.name)).toEqual(['fanout-collector-secrets']);
    expect(rolePolicy('fanout-collector-secrets').inputs.role).toBe('fanout-collector-role-id');
    expect(policy.Statement).toEqual([
      {
        Sid: 'ReadReferencedParameters',
        Effect: 'Allow',
        Action: ['ssm:GetParameter', 'ssm:GetParameters'],
        Resource: [
          `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:parameter/fanout/api-token`,
          `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:parameter/plain-key`,
        ],
      },
      {
        Sid: 'ReadReferencedSecrets',
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue'],
        Resource: [
          `arn:aws:secretsmanager:${REGION}:${ACCOUNT_ID}:secret:other-AbCdEf`,
          `arn:aws:secretsmanager:${REGION}:${ACCOUNT_ID}:secret:fanout/partner-??????`,
        ],
      },
      {
        Sid: 'DecryptReferencedSecretsThroughTheirService',
        Effect: 'Allow',
        Action: ['kms:Decrypt'],
        Resource: [KMS_KEY],
        Condition: {
          StringEquals: {
            'kms:ViaService': [
              `ssm.${REGION}.amazonaws.com`,
              `secretsmanager.${REGION}.amazonaws.com`,
            ],
          },
        },
      },
    ]);
    for (const resource of policy.Statement.flatMap((s) => asList(s.Resource))) {
      expect(resourceScopeProblem(resource), resource).toBeUndefined();
    }
  });
});

import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { referencedSecrets, secretsPolicy } from '../../src/secrets-grants.js';

const SCOPE = { partition: 'aws', region: 'eu-west-1', accountId: '123456789012' };
const FIXTURE = path.resolve(__dirname, '..', 'fixtures', 'sources-with-secrets.json');

describe('referencedSecrets', () => {
  it('lists each referenced parameter and secret once, by service', () => {
    expect(referencedSecrets(FIXTURE)).toEqual({
      parameters: ['/fanout/api-token', 'plain-key'],
      secrets: [
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-AbCdEf',
        'fanout/partner',
      ],
    });
  });

  it('finds none in the deployed example manifest', () => {
    expect(referencedSecrets(path.resolve(__dirname, '..', '..', 'sources.json'))).toEqual({
      parameters: [],
      secrets: [],
    });
  });
});

describe('secretsPolicy', () => {
  it('is undefined when nothing is referenced', () => {
    expect(secretsPolicy({ parameters: [], secrets: [] }, SCOPE)).toBeUndefined();
  });

  it('grants only the SSM actions on the parameter ARNs when only parameters are referenced', () => {
    // Act
    const policy = secretsPolicy({ parameters: ['/a/b', 'c'], secrets: [] }, SCOPE);

    // Assess
    expect(policy?.Statement).toEqual([
      {
        Sid: 'ReadReferencedParameters',
        Effect: 'Allow',
        Action: ['ssm:GetParameter', 'ssm:GetParameters'],
        Resource: [
          'arn:aws:ssm:eu-west-1:123456789012:parameter/a/b',
          'arn:aws:ssm:eu-west-1:123456789012:parameter/c',
        ],
      },
    ]);
  });

  it('matches a secret name with the six-character suffix only, and an ARN as written', () => {
    // Act
    const policy = secretsPolicy(
      {
        parameters: [],
        secrets: ['p', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:q-AbCdEf'],
      },
      SCOPE,
    );

    // Assess
    expect(policy?.Statement).toEqual([
      {
        Sid: 'ReadReferencedSecrets',
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue'],
        Resource: [
          'arn:aws:secretsmanager:eu-west-1:123456789012:secret:p-??????',
          'arn:aws:secretsmanager:eu-west-1:123456789012:secret:q-AbCdEf',
        ],
      },
    ]);
  });

  it('adds kms:Decrypt on the customer managed key only through the services in use', () => {
    // Prepare
    const kmsKeyArn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

    // Act
    const both = secretsPolicy({ parameters: ['/a'], secrets: ['s'] }, { ...SCOPE, kmsKeyArn });
    const ssmOnly = secretsPolicy({ parameters: ['/a'], secrets: [] }, { ...SCOPE, kmsKeyArn });

    // Assess
    expect(both?.Statement.at(-1)).toEqual({
      Sid: 'DecryptReferencedSecretsThroughTheirService',
      Effect: 'Allow',
      Action: ['kms:Decrypt'],
      Resource: [kmsKeyArn],
      Condition: {
        StringEquals: {
          'kms:ViaService': [
            'ssm.eu-west-1.amazonaws.com',
            'secretsmanager.eu-west-1.amazonaws.com',
          ],
        },
      },
    });
    expect(ssmOnly?.Statement.at(-1)?.Condition).toEqual({
      StringEquals: { 'kms:ViaService': ['ssm.eu-west-1.amazonaws.com'] },
    });
  });
});

import { describe, expect, it } from 'vitest';
import { isCredentialHeader, parseSecretReference, secretReferencesOf } from '../../src/index.js';

describe('parseSecretReference', () => {
  it.each([
    ['ssm:/fanout/api-token', { service: 'ssm', name: '/fanout/api-token' }],
    ['ssm:plain_name.v2', { service: 'ssm', name: 'plain_name.v2' }],
    ['secretsmanager:fanout/partner', { service: 'secretsmanager', name: 'fanout/partner' }],
    [
      'secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:p-AbCdEf',
      {
        service: 'secretsmanager',
        name: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:p-AbCdEf',
      },
    ],
  ])('reads %s', (reference, expected) => {
    expect(parseSecretReference(reference)).toEqual(expected);
  });

  it.each(['/fanout/x', 'kms:/x', 'ssm:', 'ssm:a b', 'secretsmanager:'])(
    'refuses %s',
    (reference) => {
      expect(parseSecretReference(reference)).toBeUndefined();
    },
  );
});

describe('isCredentialHeader', () => {
  it.each(['Authorization', 'Proxy-Authorization', 'Cookie', 'X-Api-Key', 'X-Session-Token'])(
    '%s is a credential',
    (name) => expect(isCredentialHeader(name)).toBe(true),
  );
  it.each(['Accept', 'Accept-Language', 'User-Agent', 'If-None-Match'])('%s is not', (name) =>
    expect(isCredentialHeader(name)).toBe(false),
  );
});

describe('secretReferencesOf', () => {
  it('lists the references of headers, query and basic auth, not the literals', () => {
    // Act
    const references = secretReferencesOf({
      headers: { Authorization: { secret: 'ssm:/a' }, Accept: 'x' },
      query: { k: { secret: 'ssm:/b', key: 'k' } },
      basicAuth: { username: 'u', password: { secret: 'secretsmanager:c' } },
    });

    // Assess
    expect(references).toEqual([
      { secret: 'ssm:/a' },
      { secret: 'ssm:/b', key: 'k' },
      { secret: 'secretsmanager:c' },
    ]);
  });
});

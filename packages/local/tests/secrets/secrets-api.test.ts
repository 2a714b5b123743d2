import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  GetParameterCommand,
  GetParametersCommand,
  ParameterNotFound,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSecretsServer, startLocalSecrets } from '../../src/secrets/index.js';

let dir: string;
let file: string;
let server: LocalSecretsServer;
let ssm: SSMClient;
let sm: SecretsManagerClient;

const CONTENTS = {
  ssm: { '/fanout/api-token': 'tok-1', plain: { value: 'visible', type: 'String' } },
  secretsmanager: { 'fanout/partner': { user: 'alice', password: 'pw' }, raw: 'text' },
  denied: ['ssm:/fanout/locked', 'secretsmanager:locked'],
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fanout-secrets-'));
  file = join(dir, 'secrets.json');
  await writeFile(file, JSON.stringify(CONTENTS));
  server = await startLocalSecrets({ file });
  const config = {
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  };
  ssm = new SSMClient(config);
  sm = new SecretsManagerClient(config);
});

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('local SSM Parameter Store (real SDK client)', () => {
  it('returns a SecureString decrypted, and not without WithDecryption', async () => {
    // Act
    const decrypted = await ssm.send(
      new GetParameterCommand({ Name: '/fanout/api-token', WithDecryption: true }),
    );
    const encrypted = await ssm.send(new GetParameterCommand({ Name: '/fanout/api-token' }));

    // Assess
    expect(decrypted.Parameter).toMatchObject({
      Name: '/fanout/api-token',
      Type: 'SecureString',
      Value: 'tok-1',
      Version: 1,
      ARN: 'arn:aws:ssm:us-east-1:000000000000:parameter/fanout/api-token',
    });
    expect(decrypted.Parameter?.LastModifiedDate).toBeInstanceOf(Date);
    expect(encrypted.Parameter?.Value).not.toBe('tok-1');
  });

  it('answers ParameterNotFound for a missing name', async () => {
    // Act
    const error = await ssm
      .send(new GetParameterCommand({ Name: '/nope', WithDecryption: true }))
      .catch((e) => e);

    // Assess
    expect(error).toBeInstanceOf(ParameterNotFound);
    expect(error.$metadata.httpStatusCode).toBe(400);
  });

  it('lists unknown names of GetParameters as InvalidParameters, not as an error', async () => {
    // Act
    const out = await ssm.send(
      new GetParametersCommand({
        Names: ['plain', '/nope', '/fanout/api-token'],
        WithDecryption: true,
      }),
    );

    // Assess
    expect(out.Parameters?.map((p) => [p.Name, p.Type, p.Value])).toEqual([
      ['plain', 'String', 'visible'],
      ['/fanout/api-token', 'SecureString', 'tok-1'],
    ]);
    expect(out.InvalidParameters).toEqual(['/nope']);
  });

  it('answers AccessDeniedException for a denied name', async () => {
    // Act
    const error = await ssm
      .send(new GetParameterCommand({ Name: '/fanout/locked', WithDecryption: true }))
      .catch((e) => e);

    // Assess
    expect(error.name).toBe('AccessDeniedException');
    expect(error.message).toContain('ssm:GetParameter');
  });
});

describe('local Secrets Manager (real SDK client)', () => {
  it('returns a JSON secret by name and by ARN', async () => {
    // Act
    const byName = await sm.send(new GetSecretValueCommand({ SecretId: 'fanout/partner' }));
    const byArn = await sm.send(new GetSecretValueCommand({ SecretId: byName.ARN }));

    // Assess
    expect(JSON.parse(byName.SecretString ?? '')).toEqual({ user: 'alice', password: 'pw' });
    expect(byName).toMatchObject({ Name: 'fanout/partner', VersionStages: ['AWSCURRENT'] });
    expect(byName.ARN).toMatch(
      /^arn:aws:secretsmanager:us-east-1:000000000000:secret:fanout\/partner-[A-Za-z0-9]{6}$/,
    );
    expect(byArn.SecretString).toBe(byName.SecretString);
  });

  it('answers ResourceNotFoundException and AccessDeniedException', async () => {
    // Act
    const missing = await sm.send(new GetSecretValueCommand({ SecretId: 'nope' })).catch((e) => e);
    const locked = await sm.send(new GetSecretValueCommand({ SecretId: 'locked' })).catch((e) => e);

    // Assess
    expect(missing).toBeInstanceOf(ResourceNotFoundException);
    expect(locked.name).toBe('AccessDeniedException');
  });

  it('reads the file at each request, so an edit needs no restart', async () => {
    // Prepare
    await writeFile(file, JSON.stringify({ ...CONTENTS, secretsmanager: { raw: 'rotated' } }));

    // Act
    const out = await sm.send(new GetSecretValueCommand({ SecretId: 'raw' }));

    // Assess
    expect(out.SecretString).toBe('rotated');
    await writeFile(file, JSON.stringify(CONTENTS));
  });

  it('answers a malformed file with an error naming the entry, never a value', async () => {
    // Prepare
    await writeFile(file, JSON.stringify({ ssm: { '/a': 42, '/b': 'keep-me-secret' } }));

    // Act
    const error = await ssm.send(new GetParameterCommand({ Name: '/b' })).catch((e) => e);

    // Assess
    expect(error.$metadata.httpStatusCode).toBe(500);
    expect(error.message).toContain('has invalid entries at ssm./a');
    expect(error.message).not.toContain('keep-me-secret');
    await writeFile(file, JSON.stringify(CONTENTS));
  });
});

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  PutBucketNotificationConfigurationCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import {
  LOCAL_ACCOUNT,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalCloud,
} from '../../src/index.js';
import { assertPortFree } from '../../src/ports.js';
import { SEEDED_PARAMETERS, SEEDED_SECRETS, type Seeded } from './case.js';
import type { ConformanceTarget } from './suite.js';

/** The local cloud as a target: its S3, Lambda and secrets endpoints, seeded through its secrets file. */
export async function seedLocalSecrets(file: string): Promise<void> {
  const ssm = Object.fromEntries(
    Object.entries(SEEDED_PARAMETERS).map(([name, versions]) => [
      name,
      {
        value: versions[versions.length - 1],
        type: 'SecureString',
        previous: versions.slice(0, -1),
      },
    ]),
  );
  await writeFile(file, JSON.stringify({ ssm, secretsmanager: SEEDED_SECRETS }, null, 2));
}

export function localTarget(cloud: LocalCloud): ConformanceTarget {
  const functionName = cloud.topology.functions.parser.name;
  return {
    name: 'local',
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    s3Endpoint: cloud.s3Endpoint,
    notifiedBucket: cloud.bucket,
    lambdaEndpoint: cloud.lambdaEndpoint,
    functionName,
    functionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${functionName}`,
    ssmEndpoint: cloud.secretsEndpoint,
    secretsEndpoint: cloud.secretsEndpoint,
    seeded: {
      parameters: SEEDED_PARAMETERS,
      secrets: SEEDED_SECRETS,
      parameterArn: (name) => `arn:aws:ssm:${LOCAL_REGION}:${LOCAL_ACCOUNT}:parameter${name}`,
      secretArn: async (name) =>
        `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:${name}-local0`,
    },
  };
}

/** True when python3 can import moto (it is optional: CI may not have it). */
export function motoAvailable(): boolean {
  const probe = spawnSync('python3', ['-c', 'import moto'], { stdio: 'ignore' });
  return (
    probe.status === 0 && spawnSync('moto_server', ['--help'], { stdio: 'ignore' }).status === 0
  );
}

export interface MotoServer {
  readonly target: ConformanceTarget;
  stop(): Promise<void>;
}

const MOTO_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/** Starts `moto_server` on a free loopback port and seeds it as the local cloud is seeded. */
export async function startMoto(home: string): Promise<MotoServer> {
  const port = await assertPortFree(0);
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, MOTO_DATA_DIR: join(home, 'moto') },
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  try {
    await waitForHttp(endpoint, child);
    const clientOptions = { endpoint, region: LOCAL_REGION, credentials: MOTO_CREDENTIALS };
    const s3 = new S3Client({ ...clientOptions, forcePathStyle: true });
    const ssm = new SSMClient(clientOptions);
    const secrets = new SecretsManagerClient(clientOptions);
    const notifiedBucket = 'conformance-notified';
    const parameterArns = new Map<string, string>();
    const secretArns = new Map<string, string>();
    try {
      await s3.send(new CreateBucketCommand({ Bucket: notifiedBucket }));
      await s3.send(
        new PutBucketNotificationConfigurationCommand({
          Bucket: notifiedBucket,
          NotificationConfiguration: {
            LambdaFunctionConfigurations: [
              {
                LambdaFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:123456789012:function:fanout-parser`,
                Events: ['s3:ObjectCreated:*'],
                Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'raw/' }] } },
              },
            ],
          },
        }),
      );
      for (const [name, versions] of Object.entries(SEEDED_PARAMETERS)) {
        for (const value of versions) {
          await ssm.send(
            new PutParameterCommand({
              Name: name,
              Value: value,
              Type: 'SecureString',
              Overwrite: true,
            }),
          );
        }
        const got = await ssm.send(new GetParameterCommand({ Name: name }));
        parameterArns.set(name, got.Parameter?.ARN ?? '');
      }
      for (const [name, value] of Object.entries(SEEDED_SECRETS)) {
        const created = await secrets.send(
          new CreateSecretCommand({ Name: name, SecretString: value }),
        );
        secretArns.set(name, created.ARN ?? '');
      }
    } finally {
      s3.destroy();
      ssm.destroy();
      secrets.destroy();
    }
    const seeded: Seeded = {
      parameters: SEEDED_PARAMETERS,
      secrets: SEEDED_SECRETS,
      parameterArn: (name) => parameterArns.get(name) ?? '',
      secretArn: async (name) => secretArns.get(name) ?? '',
    };
    return {
      target: {
        name: 'moto',
        region: LOCAL_REGION,
        credentials: MOTO_CREDENTIALS,
        s3Endpoint: endpoint,
        notifiedBucket,
        ssmEndpoint: endpoint,
        secretsEndpoint: endpoint,
        seeded,
        notRun: {
          Lambda: 'moto runs Lambda functions in Docker, which this machine does not have',
        },
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** An S3-only target: any S3-compatible endpoint (for comparing S3 servers). */
export function s3OnlyTarget(
  name: string,
  endpoint: string,
  credentials = LOCAL_CREDENTIALS,
): ConformanceTarget {
  return { name, region: LOCAL_REGION, credentials, s3Endpoint: endpoint };
}

async function waitForHttp(endpoint: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}`);
    try {
      await fetch(`${endpoint}/moto-api/`);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  throw new Error(`moto_server did not answer on ${endpoint} within 60 s`);
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsSecretStore, handleCollectorEvent, SecretResolver } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { payload } from '../helpers/payloads.js';
import { type RecordingServer, startRecordingServer } from '../helpers/recording-server.js';
import { fakeS3 } from '../helpers/transport.js';

const TOKEN = 'ssm-token-7f3a9c';
const PARTNER = { user: 'partner-user', password: 'sm-password-41d2' };
const LOCKED = 'locked-value-0b8e';

/** The SSM and Secrets Manager JSON APIs, as the SDK calls them (aws-facts-2 sections 1-2). */
function awsJsonApi(req: IncomingMessage, res: ServerResponse, body: string) {
  const target = String(req.headers['x-amz-target']);
  const input = JSON.parse(body) as Record<string, unknown>;
  const fail = (type: string) => {
    res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(JSON.stringify({ __type: type, message: `${type}: ${LOCKED}` }));
  };
  const ok = (document: unknown) => {
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(JSON.stringify(document));
  };
  if (target === 'AmazonSSM.GetParameter') {
    if (input.Name === '/locked') return fail('AccessDeniedException');
    if (input.Name !== '/api/token' || input.WithDecryption !== true) {
      return fail('ParameterNotFound');
    }
    return ok({ Parameter: { Name: input.Name, Type: 'SecureString', Value: TOKEN, Version: 1 } });
  }
  if (target === 'secretsmanager.GetSecretValue') {
    if (input.SecretId !== 'fanout/partner') return fail('ResourceNotFoundException');
    return ok({ Name: input.SecretId, SecretString: JSON.stringify(PARTNER) });
  }
  return fail('UnknownOperationException');
}

let aws: RecordingServer;
let upstream: RecordingServer;
let resolver: SecretResolver;

beforeAll(async () => {
  aws = await startRecordingServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => awsJsonApi(req, res, body));
  });
  const basic = `Basic ${Buffer.from(`${PARTNER.user}:${PARTNER.password}`).toString('base64')}`;
  upstream = await startRecordingServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const expected = path === '/bearer' ? `Bearer ${TOKEN}` : basic;
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Bearer' });
      res.end(`denied ${req.headers.authorization ?? ''}`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`[{"path":"${path}"}]`);
  });
  const clientConfig = {
    endpoint: aws.origin,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
  resolver = new SecretResolver({
    store: awsSecretStore(new SSMClient(clientConfig), new SecretsManagerClient(clientConfig)),
    ttlMs: 60_000,
    clock: { now: () => Date.now() },
  });
});

afterAll(async () => {
  await Promise.all([aws.stop(), upstream.stop()]);
});

describe('collector with secret references (real SDK clients, real HTTP)', () => {
  it('fetches with resolved secrets, fails only the sources whose reference is bad, and writes no value', async () => {
    // Prepare
    const s3 = fakeS3();
    const deps = { ...(await testDeps({ s3 })), secrets: resolver };
    const event = payload([
      {
        source: {
          id: 'bearer',
          url: `${upstream.origin}/bearer`,
          headers: { Authorization: { secret: 'ssm:/api/token', prefix: 'Bearer ' } },
        },
      },
      {
        source: {
          id: 'basic',
          url: `${upstream.origin}/basic`,
          basicAuth: {
            username: { secret: 'secretsmanager:fanout/partner', key: 'user' },
            password: { secret: 'secretsmanager:fanout/partner', key: 'password' },
          },
        },
      },
      {
        source: {
          id: 'missing',
          url: `${upstream.origin}/bearer`,
          headers: { Authorization: { secret: 'ssm:/not/there' } },
        },
      },
      {
        source: {
          id: 'denied',
          url: `${upstream.origin}/bearer`,
          headers: { Authorization: { secret: 'ssm:/locked' } },
        },
      },
      {
        source: {
          id: 'no-key',
          url: `${upstream.origin}/basic`,
          basicAuth: {
            username: 'u',
            password: { secret: 'secretsmanager:fanout/partner', key: 'pass' },
          },
        },
      },
      {
        source: {
          id: 'rejected',
          url: `${upstream.origin}/basic`,
          headers: { 'X-Api-Key': { secret: 'ssm:/api/token' } },
        },
      },
    ]);

    // Act
    const outcome = await handleCollectorEvent(event, deps);

    // Assess
    if (outcome.kind !== 'collected') throw new Error(`unexpected ${outcome.kind}`);
    const byId = Object.fromEntries(outcome.summary.result.outcomes.map((o) => [o.sourceId, o]));
    expect(byId.bearer).toMatchObject({ status: 'ok', httpStatus: 200 });
    expect(byId.basic).toMatchObject({ status: 'ok', httpStatus: 200 });
    expect(byId.missing).toMatchObject({
      status: 'failed',
      attempts: 0,
      reason:
        'secret ssm:/not/there does not exist (ParameterNotFound); create it or fix the reference',
    });
    expect(byId.denied).toMatchObject({
      status: 'failed',
      reason: expect.stringContaining('needs ssm:GetParameter on it'),
    });
    expect(byId['no-key']).toMatchObject({
      status: 'failed',
      reason: 'secret secretsmanager:fanout/partner has no JSON key "pass"',
    });
    // A referenced value the upstream refuses is an ordinary upstream failure.
    expect(byId.rejected).toMatchObject({ status: 'failed', httpStatus: 401 });
    const written = [
      JSON.stringify(s3.puts.map((put) => ({ ...put, Body: String(put.Body) }))),
      JSON.stringify(deps.log.entries),
      JSON.stringify(outcome),
      JSON.stringify(event),
      JSON.stringify(deps.invoked),
    ].join('\n');
    for (const value of [TOKEN, PARTNER.password, LOCKED]) {
      expect(written).not.toContain(value);
    }
    // The SSM token was read once for two sources, the partner secret once for three.
    const targets = aws.requests.map((r) => r.headers['x-amz-target']);
    expect(targets.filter((t) => t === 'secretsmanager.GetSecretValue')).toHaveLength(1);
    expect(targets.filter((t) => t === 'AmazonSSM.GetParameter')).toHaveLength(3);
  });
});

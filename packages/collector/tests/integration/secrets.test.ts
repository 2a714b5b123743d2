import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
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

describe('secret values never leave the source origin, nor land in a stored URL', () => {
  let other: RecordingServer;
  let api: RecordingServer;

  beforeAll(async () => {
    other = await startRecordingServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('[{"at":"other"}]');
    });
    api = await startRecordingServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/to-other') {
        res.writeHead(302, { location: `${other.origin}/landing` });
        res.end();
      } else if (path === '/echo') {
        // An upstream that puts the credential it was sent into the URL it redirects to.
        const token = String(req.headers.authorization).replace('Bearer ', '');
        res.writeHead(302, { location: `/okany/${token}?again=${token}` });
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('[{"at":"api"}]');
      }
    });
  });

  afterAll(async () => {
    await Promise.all([other.stop(), api.stop()]);
  });

  it('keeps an Accept header whose value is a secret at home on a cross-origin redirect', async () => {
    // Prepare
    const deps = { ...(await testDeps({ s3: fakeS3() })), secrets: resolver };
    const event = payload([
      {
        source: {
          id: 'accept-secret',
          url: `${api.origin}/to-other`,
          headers: { Accept: { secret: 'ssm:/api/token' }, 'Accept-Language': 'de' },
        },
      },
    ]);

    // Act
    const outcome = await handleCollectorEvent(event, deps);

    // Assess
    if (outcome.kind !== 'collected') throw new Error(`unexpected ${outcome.kind}`);
    expect(outcome.summary.result.outcomes[0]).toMatchObject({ status: 'ok', httpStatus: 200 });
    expect(api.requests.find((r) => r.path === '/to-other')?.headers.accept).toBe(TOKEN);
    const landing = other.requests.find((r) => r.path === '/landing');
    expect(landing?.headers['accept-language']).toBe('de');
    expect(landing?.headers.accept).not.toBe(TOKEN);
    expect(JSON.stringify(other.requests)).not.toContain(TOKEN);
  });

  it('scrubs a secret the upstream echoed into a redirect URL from the pack entry', async () => {
    // Prepare
    const s3 = fakeS3();
    const deps = { ...(await testDeps({ s3 })), secrets: resolver };
    const event = payload([
      {
        source: {
          id: 'echo',
          url: `${api.origin}/echo`,
          headers: { Authorization: { secret: 'ssm:/api/token', prefix: 'Bearer ' } },
        },
      },
    ]);

    // Act
    const outcome = await handleCollectorEvent(event, deps);

    // Assess
    if (outcome.kind !== 'collected') throw new Error(`unexpected ${outcome.kind}`);
    expect(outcome.summary.result.outcomes[0]).toMatchObject({ status: 'ok' });
    expect(api.requests.some((r) => r.path.startsWith(`/okany/${TOKEN}`))).toBe(true);
    const stored = s3.puts.map((put) => {
      const body = Buffer.from(put.Body as Buffer);
      return body[0] === 0x1f ? gunzipSync(body).toString('utf8') : body.toString('utf8');
    });
    const pack = stored.find((text) => text.includes('"sourceId":"echo"')) ?? '';
    expect(pack).toContain(`${api.origin}/okany/[secret]?again=REDACTED`);
    expect(stored.join('\n')).not.toContain(TOKEN);
    expect(JSON.stringify(deps.log.entries)).not.toContain(TOKEN);
  });
});

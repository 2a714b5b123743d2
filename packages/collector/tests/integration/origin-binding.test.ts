import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InsecureDowngradeError, SsrfBlockedError, UpstreamHttpError } from '../../src/errors.js';
import { type FetchProgress, fetchSource } from '../../src/fetch-source.js';
import { createNodeHttpTransport, type HttpTransport } from '../../src/http.js';
import { collectBatch } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { payload, type TaskInput } from '../helpers/payloads.js';
import {
  type RecordingServer,
  selfSignedCertificate,
  startRecordingServer,
} from '../helpers/recording-server.js';
import { fakeS3 } from '../helpers/transport.js';

const BASIC = `Basic ${Buffer.from('user:p4ss').toString('base64')}`;
/** Every header a source sets that may be a credential. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'x-api-key', 'x-custom-token'];
const SOURCE_HEADERS = {
  Cookie: 'session=COOKIE-SECRET',
  'X-Api-Key': 'KEY-SECRET',
  'X-Custom-Token': 'CUSTOM-SECRET',
  Accept: 'application/json',
};

function send(res: ServerResponse, status: number, headers: Record<string, string>, body = '') {
  res.writeHead(status, headers);
  res.end(body);
}

let source: RecordingServer;
let other: RecordingServer;
let v6: RecordingServer;
let secure: RecordingServer;
let tlsTransport: HttpTransport;

beforeAll(async () => {
  other = await startRecordingServer((req, res) => {
    if (req.url?.startsWith('/bounce')) {
      send(res, 302, { location: `${source.origin}/home` });
    } else {
      send(res, 200, { 'content-type': 'application/json' }, '["other"]');
    }
  });
  v6 = await startRecordingServer((_req, res) => send(res, 200, {}, 'internal'), { host: '::1' });
  source = await startRecordingServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const json = { 'content-type': 'application/json' };
    switch (path) {
      case '/cross-page':
        return send(res, 200, { ...json, link: `<${other.origin}/page2>; rel="next"` }, '[1]');
      case '/same-page':
        return send(res, 200, { ...json, link: '</page2?cursor=c2>; rel="next"' }, '[1]');
      case '/page2':
        return send(res, 200, json, '[2]');
      case '/redirect-away':
        return send(res, 302, { location: `${other.origin}/landing` });
      case '/redirect-round-trip':
        return send(res, 302, { location: `${other.origin}/bounce` });
      case '/home':
        return send(res, 200, json, '["home"]');
      case '/page-to-v6':
        return send(res, 200, { ...json, link: `<${v6.origin}/admin>; rel="next"` }, '[1]');
      case '/to-v6':
        return send(res, 302, { location: `${v6.origin}/admin` });
      case '/fail':
        return send(res, 500, {}, 'boom');
      case '/redirect-to-fail':
        return send(res, 302, { location: '/fail?token=REDIRECT-SECRET' });
      case '/loop':
        return send(res, 200, { ...json, link: '</loop?api_key=SECRET-QS>; rel="next"' }, '[1]');
      default:
        return send(res, 404, {}, 'no');
    }
  });
  const tls = await selfSignedCertificate();
  tlsTransport = createNodeHttpTransport({ ca: tls.cert });
  secure = await startRecordingServer(
    (req, res) => {
      if (req.url?.startsWith('/down-redirect')) {
        send(res, 302, { location: `${source.origin}/home` });
      } else {
        send(res, 200, { link: `<${source.origin}/page2>; rel="next"` }, '[1]');
      }
    },
    { tls },
  );
});

afterAll(async () => {
  await Promise.all([source, other, v6, secure].map((server) => server?.stop()));
});

async function fetchOne(task: TaskInput, transport?: HttpTransport) {
  const deps = await testDeps(transport ? { transport } : {});
  const progress: FetchProgress = { attempts: 0, failures: 0, pages: [] };
  const [only] = payload([task]).tasks;
  if (!only) throw new Error('no task');
  try {
    return await fetchSource(only, deps, new AbortController().signal, progress);
  } finally {
    await Promise.all(progress.pages.map((page) => page.body.dispose()));
  }
}

/** The credential headers a server saw on its requests to `path`. */
function credentialsSeen(server: RecordingServer, path: string) {
  return server.requests
    .filter((r) => r.path.startsWith(path))
    .map((r) => Object.fromEntries(CREDENTIAL_HEADERS.map((name) => [name, r.headers[name]])));
}

function userInfoUrl(path: string): string {
  return `${source.origin.replace('http://', 'http://user:p4ss@')}${path}`;
}

describe('credentials stay with the source origin', () => {
  it('sends no credentials with a next page on another origin', async () => {
    // Prepare
    const before = other.requests.length;

    // Act
    const result = await fetchOne({
      source: {
        id: 'cross-page',
        url: userInfoUrl('/cross-page?api_key=SECRET-QS'),
        headers: SOURCE_HEADERS,
        pagination: { type: 'link-header' },
      },
    });

    // Assess
    expect(result.kind).toBe('fetched');
    expect(credentialsSeen(source, '/cross-page')).toEqual([
      {
        authorization: BASIC,
        cookie: 'session=COOKIE-SECRET',
        'x-api-key': 'KEY-SECRET',
        'x-custom-token': 'CUSTOM-SECRET',
      },
    ]);
    const atOther = other.requests.slice(before);
    expect(atOther.map((r) => r.path)).toEqual(['/page2']);
    expect(credentialsSeen(other, '/page2')).toEqual([
      {
        authorization: undefined,
        cookie: undefined,
        'x-api-key': undefined,
        'x-custom-token': undefined,
      },
    ]);
    expect(atOther[0]?.headers.accept).toBe('application/json');
    expect(atOther[0]?.headers['user-agent']).toMatch(/^fanout-collector\//);
  });

  it('sends no Authorization header to another origin a redirect leads to', async () => {
    // Prepare
    const before = other.requests.length;

    // Act
    await fetchOne({
      source: {
        id: 'redirect-away',
        url: `${source.origin}/redirect-away`,
        headers: { ...SOURCE_HEADERS, Authorization: 'Bearer BEARER-SECRET' },
      },
    });

    // Assess
    expect(credentialsSeen(source, '/redirect-away').at(-1)).toMatchObject({
      authorization: 'Bearer BEARER-SECRET',
      'x-custom-token': 'CUSTOM-SECRET',
    });
    expect(other.requests.slice(before).map((r) => r.path)).toEqual(['/landing']);
    expect(credentialsSeen(other, '/landing').at(-1)).toEqual({
      authorization: undefined,
      cookie: undefined,
      'x-api-key': undefined,
      'x-custom-token': undefined,
    });
  });

  it('sends no basic auth from the URL to another origin a redirect leads to', async () => {
    // Prepare
    const before = other.requests.length;

    // Act
    await fetchOne({ source: { id: 'basic-away', url: userInfoUrl('/redirect-away') } });

    // Assess
    expect(credentialsSeen(source, '/redirect-away').at(-1)?.authorization).toBe(BASIC);
    const landing = other.requests.slice(before);
    expect(landing).toHaveLength(1);
    expect(landing[0]?.headers.authorization).toBeUndefined();
  });

  it('sends the credentials again when a redirect comes back to the source origin', async () => {
    // Act
    await fetchOne({
      source: {
        id: 'round-trip',
        url: userInfoUrl('/redirect-round-trip'),
        headers: SOURCE_HEADERS,
      },
    });

    // Assess
    expect(credentialsSeen(other, '/bounce').at(-1)?.authorization).toBeUndefined();
    expect(credentialsSeen(other, '/bounce').at(-1)?.['x-api-key']).toBeUndefined();
    expect(credentialsSeen(source, '/home').at(-1)).toEqual({
      authorization: BASIC,
      cookie: 'session=COOKIE-SECRET',
      'x-api-key': 'KEY-SECRET',
      'x-custom-token': 'CUSTOM-SECRET',
    });
  });

  it('sends the credentials with a next page on the same origin', async () => {
    // Act
    const result = await fetchOne({
      source: {
        id: 'same-page',
        url: userInfoUrl('/same-page'),
        headers: SOURCE_HEADERS,
        pagination: { type: 'link-header' },
      },
    });

    // Assess
    expect(result).toMatchObject({ kind: 'fetched', pages: [{ page: 0 }, { page: 1 }] });
    expect(credentialsSeen(source, '/page2?cursor=c2').at(-1)).toEqual({
      authorization: BASIC,
      cookie: 'session=COOKIE-SECRET',
      'x-api-key': 'KEY-SECRET',
      'x-custom-token': 'CUSTOM-SECRET',
    });
  });
});

describe('https never steps down to http', () => {
  it('refuses a redirect from https to http, naming both redacted URLs', async () => {
    // Prepare
    const before = source.requests.length;

    // Act
    const error = await fetchOne(
      {
        source: {
          id: 'down-redirect',
          url: `${secure.origin}/down-redirect?api_key=SECRET-QS`,
          headers: SOURCE_HEADERS,
        },
      },
      tlsTransport,
    ).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(InsecureDowngradeError);
    expect((error as Error).message).toBe(
      `refused redirect from https to http: ${secure.origin}/down-redirect?api_key=REDACTED -> ${source.origin}/home`,
    );
    expect(secure.requests.at(-1)?.headers['x-api-key']).toBe('KEY-SECRET');
    expect(source.requests.length).toBe(before);
  });

  it('refuses a next-page link from https to http', async () => {
    // Prepare
    const before = source.requests.length;

    // Act
    const error = await fetchOne(
      {
        source: {
          id: 'down-page',
          url: `${secure.origin}/list`,
          headers: SOURCE_HEADERS,
          pagination: { type: 'link-header' },
        },
      },
      tlsTransport,
    ).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(InsecureDowngradeError);
    expect((error as Error).message).toBe(
      `refused next page from https to http: ${secure.origin}/list -> ${source.origin}/page2`,
    );
    expect(source.requests.length).toBe(before);
  });
});

describe('allowPrivateNetwork covers the source host only', () => {
  it('does not follow a redirect to another private host', async () => {
    // Prepare
    const before = v6.requests.length;

    // Act
    const error = await fetchOne({
      source: { id: 'to-v6', url: `${source.origin}/to-v6`, allowPrivateNetwork: true },
    }).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(SsrfBlockedError);
    expect((error as Error).message).toBe(
      'refused ::1: resolves to ::1 (loopback); set allowPrivateNetwork to fetch it',
    );
    expect(v6.requests.length).toBe(before);
  });

  it('does not follow a next page to another private host', async () => {
    // Prepare
    const before = v6.requests.length;

    // Act
    const error = await fetchOne({
      source: {
        id: 'page-to-v6',
        url: `${source.origin}/page-to-v6`,
        allowPrivateNetwork: true,
        pagination: { type: 'link-header' },
      },
    }).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(SsrfBlockedError);
    expect(v6.requests.length).toBe(before);
  });

  it('reaches [::1] when it is the source host itself', async () => {
    const result = await fetchOne({
      source: { id: 'v6-itself', url: `${v6.origin}/admin`, allowPrivateNetwork: true },
    });
    expect(result).toMatchObject({ kind: 'fetched', pages: [{ url: `${v6.origin}/admin` }] });
  });

  it('still reaches another port of the source host', async () => {
    // Act
    const result = await fetchOne({
      source: { id: 'same-host', url: `${source.origin}/redirect-away`, allowPrivateNetwork: true },
    });

    // Assess
    expect(result).toMatchObject({ kind: 'fetched', pages: [{ url: `${other.origin}/landing` }] });
  });
});

describe('no secret is written down', () => {
  it('keeps user:password and query values out of the failure, its logs and the run record', async () => {
    // Prepare
    const s3 = fakeS3();
    const deps = await testDeps({ s3 });
    const tasks: TaskInput[] = [
      {
        source: {
          id: 'fails',
          url: userInfoUrl('/fail?api_key=SECRET-QS'),
          headers: SOURCE_HEADERS,
        },
      },
      { source: { id: 'redirect-fails', url: userInfoUrl('/redirect-to-fail?api_key=SECRET-QS') } },
      {
        source: {
          id: 'loops',
          url: userInfoUrl('/loop?api_key=SECRET-QS'),
          pagination: { type: 'link-header' },
        },
        // Unchanged since the last run, so nothing is stored (this suite has no S3).
        previous: { sha256: createHash('sha256').update('[1]').digest('hex') },
      },
    ];

    // Act
    const summary = await collectBatch(payload(tasks), deps);

    // Assess
    const [fails, redirectFails] = summary.result.outcomes;
    expect(fails).toMatchObject({
      status: 'failed',
      reason: `HTTP 500 from ${source.origin}/fail?api_key=REDACTED`,
    });
    expect(redirectFails).toMatchObject({
      status: 'failed',
      reason: `HTTP 500 from ${source.origin}/fail?token=REDACTED`,
    });
    const written = JSON.stringify({
      outcomes: summary.result.outcomes,
      logs: deps.log.entries,
      puts: s3.puts.map((put) => String(put.Body)),
    });
    expect(deps.log.entries.map((e) => e.message)).toEqual(
      expect.arrayContaining([
        'retrying fetch',
        'task failed',
        'following redirect',
        'pagination loops back; stopping',
      ]),
    );
    for (const secret of [
      'p4ss',
      'SECRET-QS',
      'REDIRECT-SECRET',
      'KEY-SECRET',
      'COOKIE-SECRET',
      'CUSTOM-SECRET',
    ]) {
      expect(written).not.toContain(secret);
    }
  });

  it('keeps them out of the error thrown by fetchSource', async () => {
    // Act
    const error = await fetchOne({
      source: { id: 'thrown', url: userInfoUrl('/fail?api_key=SECRET-QS') },
    }).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(UpstreamHttpError);
    expect((error as UpstreamHttpError).url).toBe(`${source.origin}/fail?api_key=REDACTED`);
    expect(JSON.stringify({ message: (error as Error).message, ...(error as object) })).not.toMatch(
      /p4ss|SECRET-QS/,
    );
  });
});

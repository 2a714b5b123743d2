import { describe, expect, it } from 'vitest';
import {
  InsecureDowngradeError,
  NetworkError,
  SourceFetchError,
  UnsupportedProtocolError,
  UpstreamHttpError,
} from '../../src/errors.js';
import { type FetchProgress, fetchSource } from '../../src/fetch-source.js';
import {
  assertNoDowngrade,
  basicAuthorization,
  bindToOrigin,
  headersFor,
  isGuarded,
  withoutUserInfo,
} from '../../src/origin.js';

import { testDeps } from '../helpers/deps.js';
import { payload, type TaskInput } from '../helpers/payloads.js';
import { type Reply, scriptedTransport } from '../helpers/transport.js';

const DEFAULTS = { 'user-agent': 'fanout-collector/test' };

describe('bindToOrigin / headersFor', () => {
  const binding = bindToOrigin(
    {
      url: 'https://me:s%40cret@api.example:8443/items?key=1',
      headers: { 'X-Api-Key': 'k', Cookie: 'c=1', Accept: 'text/csv', 'Accept-Language': 'en' },
      allowPrivateNetwork: false,
    },
    DEFAULTS,
  );

  it('gives the source origin its headers and the basic auth of its URL', () => {
    // Act
    const headers = headersFor(binding, new URL('https://api.example:8443/other?page=2'));

    // Assess
    expect(headers).toEqual({
      'user-agent': 'fanout-collector/test',
      authorization: `Basic ${Buffer.from('me:s@cret').toString('base64')}`,
      'x-api-key': 'k',
      cookie: 'c=1',
      accept: 'text/csv',
      'accept-language': 'en',
    });
  });

  it.each([
    ['another host', 'https://evil.example:8443/'],
    ['another port', 'https://api.example:9443/'],
    ['another scheme', 'http://api.example:8443/'],
    ['a sub-domain', 'https://x.api.example:8443/'],
  ])('gives %s only the defaults and the Accept headers', (_what, target) => {
    expect(headersFor(binding, new URL(target))).toEqual({
      'user-agent': 'fanout-collector/test',
      accept: 'text/csv',
      'accept-language': 'en',
    });
  });

  it('keeps an Accept header whose value came from a secret with the source origin', () => {
    // Prepare
    const withSecrets = bindToOrigin(
      {
        url: 'https://api.example/',
        headers: { Accept: 'tok-1', 'Accept-Language': 'en', 'accept-encoding': 'tok-2' },
        secretHeaders: ['Accept', 'Accept-Encoding'],
        allowPrivateNetwork: false,
      },
      DEFAULTS,
    );

    // Act
    const home = headersFor(withSecrets, new URL('https://api.example/next'));
    const away = headersFor(withSecrets, new URL('https://cdn.example/next'));

    // Assess
    expect(home).toMatchObject({ accept: 'tok-1', 'accept-encoding': 'tok-2' });
    expect(away).toEqual({ 'user-agent': 'fanout-collector/test', 'accept-language': 'en' });
  });

  it("lets the source's own Authorization header win over its URL's basic auth", () => {
    // Prepare
    const withHeader = bindToOrigin(
      {
        url: 'http://u:p@h.example/',
        headers: { AUTHORIZATION: 'Bearer t' },
        allowPrivateNetwork: false,
      },
      DEFAULTS,
    );

    // Act
    const headers = headersFor(withHeader, new URL('http://h.example/x'));

    // Assess
    expect(headers.authorization).toBe('Bearer t');
    expect(
      Object.keys(headers).filter((name) => name.toLowerCase() === 'authorization'),
    ).toHaveLength(1);
  });
});

describe('basicAuthorization / withoutUserInfo', () => {
  it('encodes user and password, and user alone', () => {
    expect(basicAuthorization(new URL('http://a:b@h/'))).toBe(
      `Basic ${Buffer.from('a:b').toString('base64')}`,
    );
    expect(basicAuthorization(new URL('http://a@h/'))).toBe(
      `Basic ${Buffer.from('a:').toString('base64')}`,
    );
    expect(basicAuthorization(new URL('http://h/'))).toBeUndefined();
  });

  it('drops user info and keeps the rest', () => {
    expect(withoutUserInfo(new URL('https://a:b@h:1/p?q=1#f')).href).toBe('https://h:1/p?q=1#f');
  });
});

describe('isGuarded', () => {
  it('exempts only the source host, and only when the source allows private networks', () => {
    // Prepare
    const open = bindToOrigin(
      { url: 'http://127.0.0.1:8080/', allowPrivateNetwork: true },
      DEFAULTS,
    );
    const closed = bindToOrigin(
      { url: 'http://127.0.0.1:8080/', allowPrivateNetwork: false },
      DEFAULTS,
    );

    // Assess
    expect(isGuarded(open, new URL('http://127.0.0.1:9090/'))).toBe(false);
    expect(isGuarded(open, new URL('http://[::1]:8080/'))).toBe(true);
    expect(isGuarded(open, new URL('http://10.0.0.1:8080/'))).toBe(true);
    expect(isGuarded(open, new URL('http://localhost:8080/'))).toBe(true);
    expect(isGuarded(closed, new URL('http://127.0.0.1:8080/'))).toBe(true);
  });
});

describe('assertNoDowngrade', () => {
  it('refuses https to http and names both URLs redacted', () => {
    // Act
    const error = (() => {
      try {
        assertNoDowngrade(
          's',
          'redirect',
          new URL('https://h/a?key=K1'),
          new URL('http://u:p@h/b?key=K2'),
        );
      } catch (e) {
        return e;
      }
      return undefined;
    })();

    // Assess
    expect(error).toBeInstanceOf(InsecureDowngradeError);
    expect((error as Error).message).toBe(
      'refused redirect from https to http: https://h/a?key=REDACTED -> http://h/b?key=REDACTED',
    );
  });

  it.each([
    ['http://h/', 'https://h/'],
    ['http://h/', 'http://g/'],
    ['https://h/', 'https://g/'],
  ])('lets %s -> %s through', (from, to) => {
    expect(() => assertNoDowngrade('s', 'next page', new URL(from), new URL(to))).not.toThrow();
  });
});

describe('errors carry redacted URLs only', () => {
  it('redacts every URL in any fetch error message', () => {
    const error = new NetworkError(
      's',
      'socket hang up for http://u:pw@h/x?token=T1 and https://h/y?k=T2',
    );
    expect(error.message).toBe(
      'socket hang up for http://h/x?token=REDACTED and https://h/y?k=REDACTED',
    );
    expect(error).toBeInstanceOf(SourceFetchError);
  });

  it('redacts the URL of an upstream error and of a refused protocol', () => {
    const upstream = new UpstreamHttpError('s', 502, 'http://u:pw@h/x?api_key=T1#frag');
    expect(upstream.message).toBe('HTTP 502 from http://h/x?api_key=REDACTED');
    expect(upstream.url).toBe('http://h/x?api_key=REDACTED');
    expect(
      new UpstreamHttpError('s', 302, 'http://h/x?k=T1', 'Location header is not a URL').message,
    ).toBe('HTTP 302 from http://h/x?k=REDACTED (Location header is not a URL)');
    const protocol = new UnsupportedProtocolError('s', 'ftp://u:pw@h/file?sig=T3');
    expect(protocol.message).toBe(
      'only http and https are fetched, got "ftp://h/file?sig=REDACTED"',
    );
    expect(protocol.url).not.toMatch(/pw|T3/);
  });
});

describe('upstream values that cannot be redacted are not echoed', () => {
  async function failureOf(reply: Reply, pagination?: TaskInput['source']['pagination']) {
    const deps = await testDeps({ transport: scriptedTransport(() => reply) });
    const [task] = payload([
      { source: { id: 'echo', url: 'http://api.test/x', ...(pagination ? { pagination } : {}) } },
    ]).tasks;
    if (!task) throw new Error('no task');
    const progress: FetchProgress = { attempts: 0, failures: 0, pages: [] };
    const error = await fetchSource(task, deps, new AbortController().signal, progress).catch(
      (e: unknown) => e as Error,
    );
    await Promise.all(progress.pages.map((page) => page.body.dispose()));
    return error;
  }

  it('does not repeat an unparsable Location', async () => {
    const error = await failureOf({
      status: 302,
      headers: { location: 'http://u:LOC-SECRET@[bad/' },
    });
    expect(error).toBeInstanceOf(UpstreamHttpError);
    expect((error as Error).message).toBe(
      'HTTP 302 from http://api.test/x (Location header is not a URL)',
    );
  });

  it('does not repeat an unparsable next-page reference or a non-string value', async () => {
    const bad = await failureOf(
      { status: 200, body: JSON.stringify({ next: 'http://u:NEXT-SECRET@[bad/' }) },
      { type: 'json-next', path: 'next', maxPages: 3 },
    );
    expect((bad as Error).message).toBe('next page reference on http://api.test/x is not a URL');
    const odd = await failureOf(
      { status: 200, body: JSON.stringify({ next: { token: 'OBJ-SECRET' } }) },
      { type: 'json-next', path: 'next', maxPages: 3 },
    );
    expect((odd as Error).message).toBe('next must be a URL string or null, got object');
  });
});

import { describe, expect, it } from 'vitest';
import { SsrfBlockedError } from '../../src/errors.js';
import {
  checkAddress,
  collectBatch,
  embeddedIPv4,
  type LookupFn,
  resolveGuarded,
} from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { payload } from '../helpers/payloads.js';
import { fakeS3, scriptedTransport } from '../helpers/transport.js';

/** DNS answers by name; anything else is NXDOMAIN. */
function fakeDns(records: Record<string, string[]>): LookupFn & { readonly asked: string[] } {
  const asked: string[] = [];
  const lookup: LookupFn = async (hostname) => {
    asked.push(hostname);
    const addresses = records[hostname];
    if (!addresses)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(lookup, { asked });
}

describe('checkAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local / metadata'],
    ['169.254.0.1', 'link-local / metadata'],
    ['fd00:ec2::254', 'unique local (private)'],
    ['fc00::1', 'unique local (private)'],
    ['fe80::1', 'link-local'],
    ['0.0.0.0', '"this network" / unspecified'],
    ['::', 'unspecified'],
    ['100.64.0.1', 'shared address space'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved / broadcast'],
    ['ff02::1', 'multicast'],
    // IPv4 reached through IPv6 forms
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local / metadata'],
    ['::ffff:a9fe:a9fe', 'link-local / metadata'],
    ['64:ff9b::10.0.0.1', 'private'],
  ])('refuses %s (%s)', (address, range) => {
    expect(checkAddress(address)).toEqual({ allowed: false, range });
  });

  it.each([
    ['93.184.215.14'],
    ['8.8.8.8'],
    ['172.32.0.1'],
    ['2606:4700:4700::1111'],
    ['::ffff:8.8.8.8'],
  ])('allows public %s', (address) => {
    expect(checkAddress(address)).toEqual({ allowed: true });
  });

  it.each([
    // Decoded and checked as the IPv4 address they carry.
    ['::ffff:0:0/96 IPv4-mapped', '::ffff:10.0.0.1', 'private'],
    ['::ffff:0:0/96 IPv4-mapped, hex', '::ffff:a9fe:a9fe', 'link-local / metadata'],
    ['64:ff9b::/96 NAT64 well-known', '64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::/96 NAT64 well-known', '64:ff9b::169.254.169.254', 'link-local / metadata'],
    // Refused whatever they carry.
    ['::/96 IPv4-compatible', '::8.8.8.8', 'IPv4-compatible (deprecated)'],
    ['::/96 IPv4-compatible', '::7f00:1', 'IPv4-compatible (deprecated)'],
    ['::ffff:0:0:0/96 IPv4-translated', '::ffff:0:7f00:1', 'IPv4-translated (SIIT)'],
    ['::ffff:0:0:0/96 IPv4-translated', '::ffff:0:8.8.8.8', 'IPv4-translated (SIIT)'],
    ['64:ff9b:1::/48 NAT64 local-use', '64:ff9b:1::a00:1', 'NAT64 local-use'],
    ['64:ff9b:1::/48 NAT64 local-use', '64:ff9b:1:ffff::808:808', 'NAT64 local-use'],
    ['2002::/16 6to4', '2002:7f00:1::1', '6to4'],
    ['2002::/16 6to4', '2002:a9fe:a9fe::', '6to4'],
    ['2002::/16 6to4', '2002:808:808::1', '6to4'],
    ['2001::/32 Teredo', '2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
    ['2001::/32 Teredo', '2001::7f00:1', 'Teredo'],
    // Outside global unicast 2000::/3, named or not.
    ['::/8 reserved, near NAT64', '64:ff9b:0:1::a00:1', 'not global unicast'],
    ['4000::/2', '4000::1', 'not global unicast'],
    ['3fff::/20 documentation', '3fff::1', 'documentation'],
  ])('refuses %s %s (%s)', (_range, address, label) => {
    expect(checkAddress(address)).toEqual({ allowed: false, range: label });
  });

  it('lets a NAT64 well-known address through when the IPv4 it carries is public', () => {
    expect(checkAddress('64:ff9b::8.8.8.8')).toEqual({ allowed: true });
    expect(embeddedIPv4('64:ff9b::808:808')).toBe('8.8.8.8');
  });

  it('decodes neither the translated nor the 6to4 nor the Teredo form (they are refused whole)', () => {
    expect(embeddedIPv4('::ffff:0:808:808')).toBeUndefined();
    expect(embeddedIPv4('2002:808:808::1')).toBeUndefined();
    expect(embeddedIPv4('2001::808:808')).toBeUndefined();
  });

  it('refuses what is not an address at all', () => {
    expect(checkAddress('example.com')).toEqual({ allowed: false, range: 'not an IP address' });
  });

  it('extracts the IPv4 address of mapped forms only', () => {
    expect(embeddedIPv4('::ffff:c0a8:101')).toBe('192.168.1.1');
    expect(embeddedIPv4('2001:db8::1')).toBeUndefined();
  });
});

describe('resolveGuarded', () => {
  const dns = fakeDns({
    'public.example': ['93.184.215.14', '2606:2800:21f::1'],
    'internal.example': ['10.0.0.5'],
    'metadata.example': ['169.254.169.254'],
    'mixed.example': ['93.184.215.14', '192.168.0.10'],
    'mapped.example': ['::ffff:127.0.0.1'],
  });

  it('returns the first checked address of a public name', async () => {
    await expect(
      resolveGuarded(new URL('https://public.example/x'), { sourceId: 's', lookup: dns }),
    ).resolves.toEqual({
      address: '93.184.215.14',
      family: 4,
    });
  });

  it.each([
    ['http://internal.example/', '10.0.0.5 (private)'],
    ['http://metadata.example/latest/meta-data/', '169.254.169.254 (link-local / metadata)'],
    ['http://mixed.example/', '192.168.0.10 (private)'],
    ['http://mapped.example/', '::ffff:127.0.0.1 (loopback)'],
    ['http://169.254.169.254/latest/', '169.254.169.254 (link-local / metadata)'],
    ['http://[fd00:ec2::254]/latest/', 'fd00:ec2::254 (unique local (private))'],
    ['http://[::ffff:127.0.0.1]:8080/', '::ffff:7f00:1 (loopback)'],
    ['http://0x7f.1/', '127.0.0.1 (loopback)'],
    ['http://[64:ff9b:1::a00:1]/', '64:ff9b:1::a00:1 (NAT64 local-use)'],
    ['http://[2002:7f00:1::1]/', '2002:7f00:1::1 (6to4)'],
    ['http://[2001::7f00:1]/', '2001::7f00:1 (Teredo)'],
    ['http://[::ffff:0:7f00:1]/', '::ffff:0:7f00:1 (IPv4-translated (SIIT))'],
    ['http://[64:ff9b::a9fe:a9fe]/', '64:ff9b::a9fe:a9fe (link-local / metadata)'],
  ])('refuses %s', async (url, detail) => {
    const error = await resolveGuarded(new URL(url), { sourceId: 'src', lookup: dns }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SsrfBlockedError);
    expect((error as Error).message).toContain(`resolves to ${detail}`);
    expect((error as SsrfBlockedError).sourceId).toBe('src');
  });

  it('does not look up IP literals', async () => {
    const asked = dns.asked.length;
    await resolveGuarded(new URL('http://8.8.8.8/'), { sourceId: 's', lookup: dns });
    expect(dns.asked.length).toBe(asked);
  });
});

describe('SSRF guard in the collector', () => {
  const dns = fakeDns({
    'public.example': ['93.184.215.14'],
    'internal.example': ['10.0.0.5'],
  });

  it('records a blocked source as failed without sending a request', async () => {
    const transport = scriptedTransport(() => ({ status: 200, body: 'secret' }));
    const deps = await testDeps({ s3: fakeS3(), transport, lookup: dns });

    const summary = await collectBatch(
      payload([
        {
          source: {
            id: 'meta',
            url: 'http://169.254.169.254/latest/meta-data/',
            allowPrivateNetwork: false,
          },
        },
      ]),
      deps,
    );

    expect(transport.requests).toHaveLength(0);
    expect(summary.result.outcomes[0]).toMatchObject({
      status: 'failed',
      attempts: 1,
      reason:
        'refused 169.254.169.254: resolves to 169.254.169.254 (link-local / metadata); set allowPrivateNetwork to fetch it',
    });
  });

  it('connects to the checked address and re-checks every redirect target', async () => {
    const transport = scriptedTransport((req) =>
      req.url.hostname === 'public.example'
        ? { status: 302, headers: { location: 'http://internal.example/admin' } }
        : { status: 200, body: 'internal' },
    );
    const deps = await testDeps({ s3: fakeS3(), transport, lookup: dns });

    const summary = await collectBatch(
      payload([
        { source: { id: 'redir', url: 'http://public.example/start', allowPrivateNetwork: false } },
      ]),
      deps,
    );

    expect(transport.requests.map((r) => r.url.href)).toEqual(['http://public.example/start']);
    expect(transport.requests[0]?.pinnedAddress).toEqual({ address: '93.184.215.14', family: 4 });
    expect(summary.result.outcomes[0]).toMatchObject({
      status: 'failed',
      reason: expect.stringContaining('refused internal.example: resolves to 10.0.0.5 (private)'),
    });
  });

  it('refuses a redirect to a non-http protocol', async () => {
    const transport = scriptedTransport(() => ({
      status: 301,
      headers: { location: 'file:///etc/passwd' },
    }));
    const deps = await testDeps({ s3: fakeS3(), transport, lookup: dns });

    const summary = await collectBatch(
      payload([
        { source: { id: 'proto', url: 'http://public.example/', allowPrivateNetwork: false } },
      ]),
      deps,
    );

    expect(summary.result.outcomes[0]).toMatchObject({
      status: 'failed',
      reason: 'only http and https are fetched, got "file:///etc/passwd"',
    });
  });

  it('stops after the redirect limit and drops credentials across origins', async () => {
    const transport = scriptedTransport((req) =>
      req.url.hostname === 'public.example'
        ? { status: 307, headers: { location: 'http://8.8.8.8/next' } }
        : { status: 308, headers: { location: `/again${req.url.pathname}` } },
    );
    const deps = await testDeps({
      s3: fakeS3(),
      transport,
      lookup: dns,
      settings: { maxRedirects: 3 },
    });

    const summary = await collectBatch(
      payload([
        {
          source: {
            id: 'loop',
            url: 'http://public.example/',
            headers: { Authorization: 'Bearer t', 'x-api': 'k' },
            allowPrivateNetwork: false,
          },
        },
      ]),
      deps,
    );

    expect(transport.requests).toHaveLength(4);
    expect(transport.requests[0]?.headers).toMatchObject({
      authorization: 'Bearer t',
      'x-api': 'k',
    });
    expect(transport.requests[1]?.headers.authorization).toBeUndefined();
    expect(transport.requests[1]?.headers['x-api']).toBeUndefined();
    expect(summary.result.outcomes[0]).toMatchObject({
      status: 'failed',
      reason: 'more than 3 redirects',
    });
  });

  it('skips the guard when the source allows private networks', async () => {
    const transport = scriptedTransport(() => ({ status: 304 }));
    const deps = await testDeps({ s3: fakeS3(), transport, lookup: dns });

    const summary = await collectBatch(
      payload([
        {
          source: { id: 'local', url: 'http://10.0.0.5/x', allowPrivateNetwork: true },
          previous: { etag: '"a"' },
        },
      ]),
      deps,
    );

    expect(transport.requests[0]?.pinnedAddress).toBeUndefined();
    expect(summary.result.outcomes[0]).toMatchObject({ status: 'unchanged' });
  });
});

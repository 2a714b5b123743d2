import { InsecureDowngradeError } from './errors.js';

export type HeaderMap = Readonly<Record<string, string>>;

/**
 * Headers that may go to an origin other than the source's: they say what is
 * wanted, not who is asking. Everything else the source sets (Authorization,
 * Cookie, X-Api-Key, any custom header) may be a credential and stays home.
 */
const PORTABLE_HEADERS: ReadonlySet<string> = new Set([
  'accept',
  'accept-encoding',
  'accept-language',
  'user-agent',
]);

/**
 * A task as it is fetched: its secret references resolved, and the names of the headers
 * whose values came from a secret. Those stay with the source's origin whatever their
 * name: a secret in `Accept` is still a secret.
 */
export interface SecretHeaderNames {
  readonly secretHeaders?: readonly string[];
}

/** Where a source's credentials may be sent, and what every other origin gets instead. */
export interface OriginBinding {
  /** scheme://host:port of the source URL. */
  readonly origin: string;
  /** The source URL's host: the only one `allowPrivateNetwork` exempts from the SSRF guard. */
  readonly hostname: string;
  readonly allowPrivateNetwork: boolean;
  /** Defaults, the source's headers and its basic auth: for the source's origin only. */
  readonly ownHeaders: HeaderMap;
  /** Defaults and the source's portable headers: for any other origin. */
  readonly foreignHeaders: HeaderMap;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** `Authorization: Basic ...` for the URL's `user:password@`, if it has one. */
export function basicAuthorization(url: URL): string | undefined {
  if (url.username === '' && url.password === '') return undefined;
  const pair = `${decode(url.username)}:${decode(url.password)}`;
  return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
}

/** The URL without `user:password@`: credentials travel only as headers chosen by origin. */
export function withoutUserInfo(url: URL): URL {
  if (url.username === '' && url.password === '') return url;
  const bare = new URL(url.href);
  bare.username = '';
  bare.password = '';
  return bare;
}

function lowerCased(headers: HeaderMap): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]),
  );
}

/**
 * Binds a source's headers and URL credentials to the source URL's origin.
 * Header names are lower-cased, so a source's `Authorization` replaces the
 * basic auth from its URL rather than being sent next to it. A portable header
 * whose value came from a secret (`secretHeaders`) is not portable.
 */
export function bindToOrigin(
  source: {
    readonly url: string;
    readonly headers?: HeaderMap | undefined;
    readonly allowPrivateNetwork: boolean;
  } & SecretHeaderNames,
  defaults: HeaderMap,
): OriginBinding {
  const url = new URL(source.url);
  const own = lowerCased(source.headers ?? {});
  const secret = new Set((source.secretHeaders ?? []).map((name) => name.toLowerCase()));
  const basic = basicAuthorization(url);
  const ownHeaders = {
    ...lowerCased(defaults),
    ...(basic !== undefined ? { authorization: basic } : {}),
    ...own,
  };
  const foreignHeaders = {
    ...lowerCased(defaults),
    ...Object.fromEntries(
      Object.entries(own).filter(([name]) => PORTABLE_HEADERS.has(name) && !secret.has(name)),
    ),
  };
  return {
    origin: url.origin,
    hostname: url.hostname,
    allowPrivateNetwork: source.allowPrivateNetwork,
    ownHeaders,
    foreignHeaders,
  };
}

/** The headers a request to `target` may carry: the source's own only at the source's origin. */
export function headersFor(binding: OriginBinding, target: URL): HeaderMap {
  return target.origin === binding.origin ? binding.ownHeaders : binding.foreignHeaders;
}

/** Whether the SSRF guard checks `target`: always, except the source's own host when it allows private networks. */
export function isGuarded(binding: OriginBinding, target: URL): boolean {
  return !(binding.allowPrivateNetwork && target.hostname === binding.hostname);
}

/** Refuses a step from https to http (a redirect or a next-page link). */
export function assertNoDowngrade(
  sourceId: string,
  via: 'redirect' | 'next page',
  from: URL,
  to: URL,
): void {
  if (from.protocol === 'https:' && to.protocol === 'http:') {
    throw new InsecureDowngradeError(sourceId, via, from.href, to.href);
  }
}

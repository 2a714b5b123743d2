/** What stands in for a query value in a URL that is logged or stored. */
export const REDACTED = 'REDACTED';

/**
 * A URL in running text, of any scheme (`ftp://user:pass@...` carries credentials as well
 * as http does); trailing punctuation belongs to the sentence, not the URL.
 */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]*[^\s"'<>.,;:!?)]/gi;
/** `user:password@` or `user@` at the start or right after `//`, in text that is not a URL. */
const USER_INFO = /(^|\/\/)[^\s/?#@]*@/g;
/** A query value, in text that is not a URL. */
const QUERY_VALUE = /([?&][^\s=&#]+=)[^\s&#]*/g;

/** `url` parsed, with no `user:password@` and no fragment; undefined when it is not a URL. */
export function urlWithoutUserInfo(url: string): URL | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  parsed.username = '';
  parsed.password = '';
  parsed.hash = '';
  return parsed;
}

/**
 * A URL fit to write into a log, a record, an error or a terminal: no
 * `user:password@`, every query value replaced by `REDACTED` (names kept, since
 * they say what was asked), no fragment. Text that is not a URL comes back as is.
 */
export function redactUrl(url: string): string {
  const parsed = urlWithoutUserInfo(url);
  if (parsed === undefined) return url;
  const names = [...parsed.searchParams.keys()];
  if (names.length > 0) {
    parsed.search = names.map((name) => `${encodeURIComponent(name)}=${REDACTED}`).join('&');
  }
  return parsed.toString();
}

/** Redacts every URL inside a message (an upstream error, a log line). */
export function redactUrlsIn(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => redactUrl(url));
}

/**
 * What a `url` field may show in an error: the URL redacted, and for text no URL parser
 * accepts (a mistyped URL is the usual reason it is in an error), `user:password@` and
 * query values removed all the same.
 */
export function redactUrlLike(text: string): string {
  const redacted = redactUrlsIn(text);
  return redacted.replace(USER_INFO, '$1').replace(QUERY_VALUE, `$1${REDACTED}`);
}

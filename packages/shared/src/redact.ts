/** What stands in for a query value in a URL that is logged or stored. */
export const REDACTED = 'REDACTED';

/** A URL in running text; trailing punctuation belongs to the sentence, not the URL. */
const URL_IN_TEXT = /\bhttps?:\/\/[^\s"'<>]*[^\s"'<>.,;:!?)]/gi;

/**
 * A URL fit to write into a log, a record, an error or a terminal: no
 * `user:password@`, every query value replaced by `REDACTED` (names kept, since
 * they say what was asked), no fragment. Text that is not a URL comes back as is.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  parsed.username = '';
  parsed.password = '';
  parsed.hash = '';
  const names = [...parsed.searchParams.keys()];
  if (names.length > 0) {
    parsed.search = names.map((name) => `${encodeURIComponent(name)}=${REDACTED}`).join('&');
  }
  return parsed.toString();
}

/** Redacts every http(s) URL inside a message (an upstream error, a log line). */
export function redactUrlsIn(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => redactUrl(url));
}

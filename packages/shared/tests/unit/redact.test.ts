import { describe, expect, it } from 'vitest';
import { redactUrl, redactUrlsIn } from '../../src/index.js';

describe('redactUrl', () => {
  it.each([
    [
      'http://user:p4ss@127.0.0.1:38805/api?api_key=SECRET-QS',
      'http://127.0.0.1:38805/api?api_key=REDACTED',
    ],
    [
      'https://example.com/a?x=1&x=2&token=t#frag',
      'https://example.com/a?x=REDACTED&x=REDACTED&token=REDACTED',
    ],
    ['https://example.com/plain/path', 'https://example.com/plain/path'],
    ['https://user@example.com/', 'https://example.com/'],
    ['not a url', 'not a url'],
  ])('%s -> %s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });

  it('redacts every URL inside a message and leaves the rest', () => {
    const message =
      'HTTP 500 from http://user:p4ss@127.0.0.1:38805/api?api_key=SECRET-QS; next https://h/x?sig=abc.';
    const redacted = redactUrlsIn(message);
    expect(redacted).not.toMatch(/p4ss|SECRET-QS|abc/);
    expect(redacted).toContain('HTTP 500 from http://127.0.0.1:38805/api?api_key=REDACTED;');
    expect(redacted).toContain('https://h/x?sig=REDACTED');
  });
});

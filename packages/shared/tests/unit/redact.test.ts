import { describe, expect, it } from 'vitest';
import { redactForMessage, redactUrl, redactUrlLike, redactUrlsIn } from '../../src/index.js';

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

describe('redactUrlsIn: any scheme', () => {
  it('redacts ftp and other URLs with user:password@ like http ones', () => {
    expect(redactUrlsIn('fetch ftp://u:pw1@h.example/x?token=t2 failed')).toBe(
      'fetch ftp://h.example/x?token=REDACTED failed',
    );
    expect(redactUrlsIn('see sftp://u:pw1@h/x.')).toBe('see sftp://h/x.');
  });
});

describe('redactUrlLike', () => {
  it.each([
    ['u:pw1@host/x?api_key=k1', 'host/x?api_key=REDACTED'],
    ['htp//u:pw1@host?a=1&b=2', 'htp//host?a=REDACTED&b=REDACTED'],
    ['https://u:pw1@h/x?k=v', 'https://h/x?k=REDACTED'],
  ])('%s -> %s', (text, expected) => {
    expect(redactUrlLike(text)).toBe(expected);
  });
});

describe('redactForMessage', () => {
  it('keeps what says where a credential is, and nothing that may be one', () => {
    // Act
    const shown = redactForMessage({
      id: 'a',
      url: 'https://u:pw1@h/x?token=t1',
      headers: {
        Accept: 'text/csv',
        Authorization: { secret: 'ssm:/fanout/t', prefix: 'Bearer ' },
      },
      query: { api_key: { secret: 'Bearer ghp_x', key: 'k' } },
      basicAuth: { username: 'alice', password: 'pw2' },
      options: { recordsPath: 'data.items' },
    });

    // Assess
    expect(shown).toEqual({
      id: 'a',
      url: 'https://h/x?token=REDACTED',
      headers: {
        Accept: 'REDACTED',
        Authorization: { secret: 'ssm:/fanout/t', prefix: 'REDACTED' },
      },
      query: { api_key: { secret: 'REDACTED', key: 'k' } },
      basicAuth: { username: 'REDACTED', password: 'REDACTED' },
      options: { recordsPath: 'data.items' },
    });
  });

  it('judges a value by where it was found', () => {
    expect(redactForMessage('abc', ['sources', 0, 'headers', 'X-Any'])).toBe('REDACTED');
    expect(redactForMessage('Bearer t', ['sources', 0, 'headers', 'A', 'secret'])).toBe('REDACTED');
    expect(redactForMessage('ssm:/a', ['sources', 0, 'headers', 'A', 'secret'])).toBe('ssm:/a');
    expect(redactForMessage('json', ['sources', 0, 'format'])).toBe('json');
  });
});

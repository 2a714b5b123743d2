import { describe, expect, it } from 'vitest';
import { charsetFromMetaContent, htmlEncodingLabel, prescanHtmlCharset } from '../../src/index.js';

const bytes = (text: string) => Buffer.from(text, 'latin1');

describe('prescanHtmlCharset (the HTML standard prescan)', () => {
  it.each([
    ['<meta charset="windows-1252">', 'windows-1252'],
    ["<META CHARSET='ISO-8859-1'>", 'iso-8859-1'],
    ['<meta charset=shift_jis >', 'shift_jis'],
    ['<meta http-equiv="Content-Type" content="text/html; charset=euc-jp">', 'euc-jp'],
    ['<meta content="text/html; charset=\'koi8-r\'" http-equiv=content-type>', 'koi8-r'],
    ['<!doctype html><html><head><title>x</title><meta charset="gbk">', 'gbk'],
  ])('finds %s', (head, label) => {
    expect(prescanHtmlCharset(bytes(head))).toBe(label);
  });

  it.each([
    ['a content charset without http-equiv', '<meta content="text/html; charset=koi8-r">'],
    ['a meta inside a comment', '<!-- <meta charset="koi8-r"> --><p>'],
    ['a meta-looking attribute value', '<div title="<meta charset=koi8-r>">'],
    ['a meta after the first 1,024 bytes', `<p>${'x'.repeat(1030)}</p><meta charset="koi8-r">`],
    ['no declaration', '<html><body>plain'],
  ])('ignores %s', (_, head) => {
    expect(prescanHtmlCharset(bytes(head))).toBeUndefined();
  });

  it('takes the first attribute of a name, as the standard does', () => {
    expect(prescanHtmlCharset(bytes('<meta charset="big5" charset="gbk">'))).toBe('big5');
  });

  it('reads charset= in a content value', () => {
    expect(charsetFromMetaContent('text/html;charset = "utf-8"')).toBe('utf-8');
    expect(charsetFromMetaContent('text/html; charset=x; y')).toBe('x');
    expect(charsetFromMetaContent('text/html; charset="unclosed')).toBeUndefined();
  });
});

describe('htmlEncodingLabel', () => {
  it('prefers a BOM, then the HTTP charset, then the meta, else UTF-8', () => {
    const meta = bytes('<meta charset="windows-1252">');
    expect(
      htmlEncodingLabel(
        Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), meta]),
        'text/html; charset=gbk',
      ),
    ).toBe('utf-8');
    expect(htmlEncodingLabel(meta, 'text/html; charset=gbk')).toBe('gbk');
    expect(htmlEncodingLabel(meta, 'text/html')).toBe('windows-1252');
    expect(htmlEncodingLabel(bytes('<p>x'), undefined)).toBe('utf-8');
  });

  it('reads a meta that says UTF-16 as UTF-8 (the bytes were ASCII)', () => {
    expect(htmlEncodingLabel(bytes('<meta charset="utf-16">'), undefined)).toBe('utf-8');
  });
});

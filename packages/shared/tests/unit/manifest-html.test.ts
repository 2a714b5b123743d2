import { describe, expect, it } from 'vitest';
import { parseManifest, readHtmlField, splitAttribute } from '../../src/index.js';
import { aManifest, aSource } from '../helpers/factories.js';

const shop = {
  id: 'shop',
  url: 'https://shop.example.test/list',
  format: 'html',
  options: {
    items: 'li.product',
    fields: {
      name: 'h2 a',
      url: 'h2 a@href',
      sku: '@data-sku',
      tags: { selector: '.tags a', all: true },
    },
  },
} as const;

function errorsOf(entry: unknown): readonly string[] {
  const { sources, invalid } = parseManifest(aManifest([entry]));
  expect(sources).toEqual([]);
  expect(invalid).toHaveLength(1);
  return invalid[0]?.errors ?? [];
}

describe('html sources in the manifest', () => {
  it('accepts items, fields of every form and html-next pagination', () => {
    // Act
    const { sources, invalid } = parseManifest(
      aManifest([
        { ...shop, pagination: { type: 'html-next', selector: 'a[rel=next]@href' } },
        { ...shop, id: 'detail', options: { fields: { body: { selector: '.desc', html: true } } } },
      ]),
    );

    // Assess
    expect(invalid).toEqual([]);
    expect(sources.map((source) => source.id)).toEqual(['shop', 'detail']);
    expect(sources[0]?.pagination).toEqual({
      type: 'html-next',
      selector: 'a[rel=next]@href',
      maxPages: 20,
    });
  });

  it('names the entry, the field and the selector of an invalid selector', () => {
    // Act
    const { invalid } = parseManifest(
      aManifest([
        aSource(),
        { ...shop, options: { ...shop.options, fields: { price: '.price[' } } },
      ]),
    );

    // Assess
    expect(invalid).toEqual([
      {
        index: 1,
        id: 'shop',
        errors: [
          'sources[1].options.fields.price: invalid CSS selector ".price[": Expected name, found ',
        ],
      },
    ]);
  });

  it('checks the items selector and the pagination selector too', () => {
    const errors = errorsOf({
      ...shop,
      options: { ...shop.options, items: 'li:first' },
      pagination: { type: 'html-next', selector: 'a::attr(href)' },
    });
    expect(errors).toEqual([
      'sources[0].options.items: invalid CSS selector "li:first": Unknown pseudo-class :first',
      'sources[0].pagination.selector: invalid CSS selector "a::attr(href)": Pseudo-elements are not supported by css-select (text is the default; write "@name" at the end for an attribute)',
    ]);
  });

  it('rejects a field that is empty, ends with a combinator, or asks for html and an attribute', () => {
    const errors = errorsOf({
      ...shop,
      options: {
        fields: { empty: '  ', dangling: 'ul >', both: { selector: 'a@href', html: true } },
      },
    });
    expect(errors).toEqual([
      'sources[0].options.fields.empty: is empty: write a CSS selector, or "@attribute" for an attribute of the item',
      'sources[0].options.fields.dangling: invalid CSS selector "ul >": ends with a combinator',
      'sources[0].options.fields.both: "html": true reads the inner HTML, and @href an attribute: choose one',
    ]);
  });

  it('requires fields, and rejects options of other formats with what html reads', () => {
    expect(errorsOf({ ...shop, options: { items: 'li' } })).toEqual([
      'sources[0].options.fields: is required: record field name -> CSS selector, e.g. {"name": "h2", "link": "a@href"} (html format), got nothing',
    ]);
    expect(errorsOf({ ...shop, options: { ...shop.options, delimiter: ';' } })).toEqual([
      'sources[0].options: is not an option of the html format (it reads items, fields, invalidBytes), got "delimiter"',
    ]);
  });

  it('rejects options too large for S3 metadata', () => {
    const fields = Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [`field${i}`, `div.some-long-class-name-${i} > span`]),
    );
    const [error] = errorsOf({ ...shop, options: { fields } });
    expect(error).toMatch(/^sources\[0\]\.options: take more than 1024 bytes as JSON/);
  });
});

describe('formats known up front', () => {
  it('rejects a typo of a built-in format before anything is fetched', () => {
    expect(errorsOf(aSource({ format: 'htm' }))).toEqual([
      'sources[0].format: unknown format (built-in: json, ndjson, csv, rss, atom, html; custom extractors: key-value, listed in CUSTOM_FORMATS of @fanout/shared as the parser registers them), got "htm"',
    ]);
  });

  it('rejects an option the format does not read', () => {
    expect(errorsOf(aSource({ format: 'csv', options: { recordsPath: 'data' } }))).toEqual([
      'sources[0].options: is not an option of the csv format (it reads delimiter, header, relaxColumnCount, strict, invalidBytes), got "recordsPath"',
    ]);
  });

  it('lets a custom extractor read any option', () => {
    const { invalid } = parseManifest(
      aManifest([aSource({ format: 'key-value', options: { delimiter: ';', strict: true } })]),
    );
    expect(invalid).toEqual([]);
  });
});

describe('field syntax', () => {
  it('splits a trailing @attribute off the selector, not one inside brackets or quotes', () => {
    expect(splitAttribute('a[rel=next]@href')).toEqual({
      selector: 'a[rel=next]',
      attribute: 'href',
    });
    expect(splitAttribute('@data-sku')).toEqual({ selector: '', attribute: 'data-sku' });
    expect(splitAttribute('a[href$="@x"]')).toEqual({ selector: 'a[href$="@x"]' });
    expect(splitAttribute('a[title=me@home]')).toEqual({ selector: 'a[title=me@home]' });
    expect(splitAttribute(' h2  a ')).toEqual({ selector: 'h2  a' });
  });

  it('reads both forms', () => {
    expect(readHtmlField('img@SRC')).toEqual({
      selector: 'img',
      attribute: 'src',
      html: false,
      all: false,
    });
    expect(readHtmlField({ selector: '.tags a', all: true })).toEqual({
      selector: '.tags a',
      html: false,
      all: true,
    });
  });
});

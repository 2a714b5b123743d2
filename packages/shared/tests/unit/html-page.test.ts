import { describe, expect, it } from 'vitest';
import {
  firstLink,
  HtmlRecordReader,
  HtmlValueError,
  parseHtmlPage,
} from '../../src/html/index.js';

const PAGE = `<!doctype html><html><head><title>Shop</title>
<script>var items = "<li class=product>";</script><style>.x{}</style></head><body>
<ul>
  <li class="product" data-sku=" A-1 ">
    <h2><a href="/p/1?ref=list">Garden
       hose</a></h2>
    <p class="price">€ 12,00 <s>€ 15,00</s></p>
    <img src="img/1.jpg" srcset="img/1@2x.jpg 2x, https://cdn.test/1.jpg 640w">
    <ul class="tags"><li><a href="../tag/garden">garden</a></li><li><a>tools</a></li></ul>
    <div class="desc"><p>A <b>sturdy</b> hose.</p><p>Ships&nbsp;today.</p><br>Line</div>
  </li>
  <li class="product">
    <h2><a>No link</a></h2>
    <ul class="tags"></ul>
  </li>
</ul>
<a rel="next" href="?page=2">Next</a>
</body></html>`;

const reader = new HtmlRecordReader('li.product', {
  sku: '@data-sku',
  name: 'h2 a',
  url: 'h2 a@href',
  price: '.price',
  image: 'img@src',
  srcset: 'img@srcset',
  tags: { selector: '.tags a', all: true },
  tagLinks: { selector: '.tags a@href', all: true },
  description: '.desc',
  descriptionHtml: { selector: '.desc', html: true },
  missing: '.nothing',
});

function records(html: string, pageUrl: string | undefined, read = reader) {
  const page = parseHtmlPage(html, pageUrl);
  return read.itemsOf(page).map((item) => read.record(item, page));
}

describe('HtmlRecordReader', () => {
  it('reads text, attributes, inner HTML and lists, with URLs resolved and nulls for missing', () => {
    expect(records(PAGE, 'https://shop.test/en/list?page=1')).toEqual([
      {
        sku: 'A-1',
        name: 'Garden hose',
        url: 'https://shop.test/p/1?ref=list',
        price: '€ 12,00 € 15,00',
        image: 'https://shop.test/en/img/1.jpg',
        srcset: 'https://shop.test/en/img/1@2x.jpg 2x, https://cdn.test/1.jpg 640w',
        tags: ['garden', 'tools'],
        tagLinks: ['https://shop.test/tag/garden'],
        description: 'A sturdy hose. Ships\u00a0today. Line',
        descriptionHtml: '<p>A <b>sturdy</b> hose.</p><p>Ships&nbsp;today.</p><br>Line',
        missing: null,
      },
      {
        sku: null,
        name: 'No link',
        url: null,
        price: null,
        image: null,
        srcset: null,
        tags: [],
        tagLinks: [],
        description: null,
        descriptionHtml: null,
        missing: null,
      },
    ]);
  });

  it('resolves against <base href> before the page URL', () => {
    const html =
      '<head><base href="https://cdn.test/assets/"></head><li class=product><img src="a.png">';
    const read = new HtmlRecordReader('li', { image: 'img@src' });
    expect(records(html, 'https://shop.test/list', read)).toEqual([
      { image: 'https://cdn.test/assets/a.png' },
    ]);
  });

  it('makes the whole page one record without items', () => {
    const read = new HtmlRecordReader(undefined, { title: 'title', next: 'a[rel=next]@href' });
    expect(records(PAGE, 'https://shop.test/list?page=1', read)).toEqual([
      { title: 'Shop', next: 'https://shop.test/list?page=2' },
    ]);
  });

  it('reads selectors relative to the item', () => {
    const html = '<div class=card><span>outer</span><div><span>inner</span></div></div>';
    const read = new HtmlRecordReader('.card', {
      direct: '> span',
      all: { selector: 'span', all: true },
    });
    expect(records(html, 'https://x.test/', read)).toEqual([
      { direct: 'outer', all: ['outer', 'inner'] },
    ]);
  });

  it('refuses a relative URL when the page URL is not known, and keeps absolute ones', () => {
    const read = new HtmlRecordReader('li', { url: 'a@href' });
    expect(records('<li><a href="https://x.test/a">x</a>', undefined, read)).toEqual([
      { url: 'https://x.test/a' },
    ]);
    expect(() => records('<li><a href="/a">x</a>', undefined, read)).toThrow(HtmlValueError);
    expect(() => records('<li><a href="/a">x</a>', undefined, read)).toThrow(
      'cannot resolve the relative URL "/a" in @href',
    );
  });
});

describe('firstLink', () => {
  it('finds the next link (href by default), resolved', () => {
    const page = parseHtmlPage(PAGE, 'https://shop.test/list?page=1');
    expect(firstLink(page, 'a[rel=next]')).toBe('https://shop.test/list?page=2');
    expect(firstLink(page, 'a[rel=next]@href')).toBe('https://shop.test/list?page=2');
    expect(firstLink(page, 'a[rel=prev]@href')).toBeUndefined();
  });
});

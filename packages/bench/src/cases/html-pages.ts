import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

/** Items on each generated list page, and the fields every library extracts from them. */
export const ITEMS_PER_PAGE = 40;

/**
 * One list page of a generated shop, shaped like what shops serve: a head with styles and
 * scripts, navigation, a grid of product cards (name and link, price, image, rating, tags,
 * a description with inline markup), and a pager. About 30 KB a page.
 */
export function shopListPage(page: number, pages: number): string {
  const cards: string[] = [];
  for (let i = 0; i < ITEMS_PER_PAGE; i += 1) {
    const id = page * ITEMS_PER_PAGE + i;
    const sale = id % 7 === 0 ? '<span class="was">€ 99,00</span>' : '';
    const tags = ['garden', 'tools', 'outdoor', 'summer']
      .slice(0, 1 + (id % 4))
      .map((tag) => `<li><a href="/tag/${tag}">${tag}</a></li>`)
      .join('');
    cards.push(`
      <li class="product" data-sku="SKU-${id}">
        <a class="thumb" href="/p/${id}"><img src="/img/${id}.jpg" srcset="/img/${id}@2x.jpg 2x" alt="Product ${id}" loading="lazy"></a>
        <h2 class="name"><a href="/p/${id}?ref=list">Product&nbsp;${id} &amp; friends</a></h2>
        <p class="price">€ ${(id % 90) + 9},${String(id % 100).padStart(2, '0')} ${sale}</p>
        <div class="rating" title="${(id % 5) + 1} of 5"><span style="width:${(id % 5) * 20}%"></span></div>
        <ul class="tags">${tags}</ul>
        <div class="desc"><p>A <b>sturdy</b> item for the   garden,
          made to last.</p><p>Ships in ${1 + (id % 3)} days.</p></div>
      </li>`);
  }
  const next = page + 1 < pages ? `<a rel="next" href="/list?page=${page + 2}">Next</a>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop, page ${page + 1}</title>
<link rel="stylesheet" href="/static/site.css">
<style>.product{display:inline-block;width:200px}.price{color:#c00}</style>
<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}gtag('js',new Date());</script>
</head><body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/list">All products</a></li><li><a href="/about">About</a></li></ul></nav></header>
<main><h1>All products</h1><ul class="grid">${cards.join('')}
</ul><nav class="pager">${next}</nav></main>
<footer><p>&copy; 2026 Example Shop</p></footer>
<script src="/static/app.js" defer></script>
</body></html>
`;
}

/** Writes list pages until `bytes` are written, one page a line-separated file each; returns the page files. */
export async function writeShopPages(dir: string, bytes: number): Promise<string[]> {
  const files: string[] = [];
  let written = 0;
  const pages = Math.max(1, Math.round(bytes / Buffer.byteLength(shopListPage(0, 2))));
  for (let page = 0; written < bytes; page += 1) {
    const file = `${dir}/list-${String(page).padStart(4, '0')}.html`;
    const text = shopListPage(page, pages);
    const out = createWriteStream(file);
    out.end(text);
    await once(out, 'close');
    files.push(file);
    written += Buffer.byteLength(text);
  }
  return files;
}

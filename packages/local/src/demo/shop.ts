/**
 * The demo's HTML shop: three list pages of four products, each linking the next page
 * (`rel="next"`) and its products' pages with relative URLs, and a page per product with the
 * details a list does not show. A source with `html-next` pagination and `follow` turns it
 * into list records and one detail record per product.
 */

export const SHOP_LIST_PATH = '/shop/catalog';
export const SHOP_PRODUCT_PATH = /^\/shop\/product\/(\d+)$/;
export const SHOP_LIST_PAGES = 3;
export const SHOP_PRODUCTS_PER_PAGE = 4;
export const SHOP_PRODUCTS = SHOP_LIST_PAGES * SHOP_PRODUCTS_PER_PAGE;

const NAMES = ['Trowel', 'Secateurs', 'Rake', 'Watering can', 'Hose reel', 'Spade'];

function product(id: number) {
  return {
    id,
    sku: `SKU-${String(id).padStart(3, '0')}`,
    name: `${NAMES[(id - 1) % NAMES.length]} no. ${id}`,
    price: `€ ${(4.5 + id * 1.25).toFixed(2)}`,
    stock: id % 5 === 0 ? 'out of stock' : `${(id * 7) % 40} in stock`,
  };
}

/** List page `page` (1-based); its links are relative to `/shop/catalog`. */
export function shopListPage(page: number): string {
  const first = (page - 1) * SHOP_PRODUCTS_PER_PAGE + 1;
  const cards = Array.from({ length: SHOP_PRODUCTS_PER_PAGE }, (_, i) => product(first + i))
    .map(
      (p) => `
    <li class="product" data-sku="${p.sku}">
      <h2><a href="product/${p.id}">${p.name}</a></h2>
      <span class="price">${p.price}</span>
    </li>`,
    )
    .join('');
  const next =
    page < SHOP_LIST_PAGES ? `<a rel="next" href="catalog?page=${page + 1}">Next page</a>` : '';
  return `<!doctype html>
<html><head><meta charset="utf-8"><base href="/shop/"><title>Garden shop, page ${page}</title></head>
<body><ul class="products">${cards}
</ul><nav>${next}</nav></body></html>
`;
}

/** The page of product `id`, or undefined for one the shop does not have. */
export function shopProductPage(id: number): string | undefined {
  if (!Number.isInteger(id) || id < 1 || id > SHOP_PRODUCTS) return undefined;
  const p = product(id);
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${p.name}</title></head>
<body><article class="product">
  <h1>${p.name}</h1>
  <p class="sku">${p.sku}</p>
  <p class="price">${p.price}</p>
  <p class="stock">${p.stock}</p>
  <div class="description"><p>A sturdy ${p.name.toLowerCase()} for every garden.</p></div>
</article></body></html>
`;
}

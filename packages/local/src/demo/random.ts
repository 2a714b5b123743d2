/** mulberry32: a small seeded generator, so a seed gives the same demo every time. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** `count` distinct indices below `size`, chosen by `random` (partial Fisher-Yates). */
export function sampleIndices(size: number, count: number, random: () => number): number[] {
  const indices = Array.from({ length: size }, (_, index) => index);
  const take = Math.min(size, count);
  for (let i = 0; i < take; i += 1) {
    const j = i + Math.floor(random() * (size - i));
    const a = indices[i] ?? i;
    indices[i] = indices[j] ?? j;
    indices[j] = a;
  }
  return indices.slice(0, take).sort((a, b) => a - b);
}

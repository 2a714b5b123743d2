/**
 * A value built by `build` the first time it is asked for, then kept. The contract's schemas
 * are built this way (and with `z.lazy`), so a function's start-up builds none of them: each
 * is built when first used, and those a function never uses never are.
 */
export function buildOnce<T>(build: () => T): () => T {
  let built: T | undefined;
  let done = false;
  return () => {
    if (!done) {
      built = build();
      done = true;
    }
    return built as T;
  };
}

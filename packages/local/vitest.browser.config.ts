import { defineConfig } from 'vitest/config';

/**
 * `pnpm test:browser`: the report opened in headless Chromium (Debian's `chromium`).
 * Not part of `pnpm test`, which needs nothing but Node and npm.
 */
export default defineConfig({
  test: {
    include: ['tests/browser/**/*.browser.ts'],
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest-browser.json' },
    pool: 'forks',
    // Node 20 has WebSocket behind a flag (Node 22 has it on by default).
    execArgv: ['--experimental-websocket'],
    testTimeout: 180_000,
    hookTimeout: 400_000,
  },
});

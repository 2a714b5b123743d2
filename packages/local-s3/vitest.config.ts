import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    // Run beside every other package's suite on a busy 2-core machine: limits guard hangs.
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});

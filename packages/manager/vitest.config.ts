import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    // turbo runs every package's suite at once; on a busy 2-core machine imports and large
    // cases take several times longer than alone, so limits guard hangs, not speed.
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});

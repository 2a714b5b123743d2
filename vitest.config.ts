import { defineConfig } from 'vitest/config';

// Running `vitest` at the root runs every package's own config as one project.
export default defineConfig({
  test: {
    projects: ['packages/*', 'infra'],
  },
});

import { defineConfig } from 'vitest/config';

// Benchmarks: print figures, never fail on timing. `npm run bench -- <file>`.
export default defineConfig({
  test: { include: ['bench/**/*.bench-test.ts'], testTimeout: 1_800_000, pool: 'forks' },
});

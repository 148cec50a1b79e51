import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

// Tests import workspaces by package name; resolve them to source so the inner loop needs no build.
const alias = [
  { find: /^@vigie\/(errors|contract|sql|kafka|runtime|policy|testkit)$/, replacement: `${root}libs/$1/src/index.ts` },
  {
    find: /^@vigie\/(collector-pglog|collector-replication|collector-egress|detector|cli|alert-receiver)$/,
    replacement: `${root}services/$1/src/index.ts`,
  },
];

export default defineConfig({
  resolve: { alias },
  test: {
    // Under CI, a JSON report as well, from which .ci/run prints the plain 'N passed, N failed' line.
    reporters: process.env['CI'] ? ['default', ['json', { outputFile: 'dist/test-results.json' }]] : ['default'],
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['libs/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**', '**/dist/**'],
          testTimeout: 10_000,
          // Unit tests first, as their own group: a failure shows in seconds, before the stack is touched.
          sequence: { groupOrder: 0 },
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'integration',
          include: ['libs/*/src/**/*.int.test.ts', 'services/*/src/**/*.int.test.ts', 'test/**/*.int.test.ts'],
          exclude: ['**/node_modules/**', '**/dist/**'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Two cores and one shared stack: run integration files two at a time.
          maxWorkers: 2,
          fileParallelism: true,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});

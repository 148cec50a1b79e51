import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
const root = fileURLToPath(new URL('.', import.meta.url));
const alias = [
  { find: /^@vigie\/(contract|sql|kafka|runtime|policy|testkit)$/, replacement: `${root}libs/$1/src/index.ts` },
  { find: /^@vigie\/(collector-pglog|collector-replication|collector-egress|detector|cli)$/, replacement: `${root}services/$1/src/index.ts` },
];
export default defineConfig({ resolve: { alias }, test: { include: ['**/*.int.test.ts'], exclude: ['**/node_modules/**', '**/dist/**'], testTimeout: 120_000, hookTimeout: 180_000 } });

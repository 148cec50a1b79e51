// Lint is part of `npm test`: type-aware rules catch the async mistakes that lose data in a streaming service, and
// the import walls below keep the rooms of ARCHITECTURE.md apart (a wall that is not checked does not hold).
import { readdirSync } from 'node:fs';
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const packagesIn = (dir) =>
  readdirSync(new URL(`./${dir}/`, import.meta.url), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
const SERVICES = packagesIn('services');
const TESTS = ['**/*.test.ts', '**/test-support/**'];

const kafkajs = { name: 'kafkajs', message: 'import from @vigie/kafka (or @vigie/testkit in tests) instead' };
const testHelpers = {
  group: ['@vigie/testkit', '**/test-support/**'],
  message: 'test helpers are for tests: product code never imports them',
};
const service = (name, message) => ({ group: [`@vigie/${name}`, `@vigie/${name}/*`], message });

/** One no-restricted-imports entry per room (a later flat-config entry replaces an earlier one's rule options). */
function walls(files, patterns, paths = [kafkajs]) {
  return { files, ignores: TESTS, rules: { 'no-restricted-imports': ['error', { paths, patterns }] } };
}

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.stack/**', 'bench/out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: [
            '*.js',
            '*.ts',
            'bench/*.js',
            'services/cli/bin/*.js',
            'services/alert-receiver/bin/*.js',
          ],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'smart'],
      'no-console': 'off',
    },
  },
  {
    // No import cycle inside a package (between packages, project references already refuse one).
    files: ['libs/*/src/**/*.ts', 'services/*/src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ alwaysTryTypes: true })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  // Libraries never import a service.
  walls(
    ['libs/*/src/**/*.ts'],
    [testHelpers, ...SERVICES.map((s) => service(s, 'a library never imports a service'))],
    [],
  ),
  // A service never imports another; the CLI is the one that composes them.
  ...SERVICES.filter((s) => s !== 'cli').map((s) =>
    walls(
      [`services/${s}/src/**/*.ts`],
      [
        testHelpers,
        ...SERVICES.filter((o) => o !== s).map((o) => service(o, 'a service never imports another (the CLI composes)')),
      ],
    ),
  ),
  walls(['services/cli/src/**/*.ts'], [testHelpers]),
  // Tests may use the testkit, not kafkajs directly.
  { files: ['services/**/*.test.ts'], rules: { 'no-restricted-imports': ['error', { paths: [kafkajs] }] } },
  // The detector's engine is generic: it never knows a rule; rules see the engine only through its rule API.
  walls(
    ['services/detector/src/engine/**/*.ts'],
    [
      testHelpers,
      { group: ['**/rules/**', '../rules', '../../rules'], message: 'the engine never imports rules' },
      ...SERVICES.filter((o) => o !== 'detector').map((o) => service(o, 'a service never imports another')),
    ],
  ),
  walls(
    ['services/detector/src/rules/**/*.ts'],
    [
      testHelpers,
      {
        group: ['**/engine/**', '!**/engine/rule-api.js'],
        message: 'rules import the engine only through engine/rule-api.js',
      },
      ...SERVICES.filter((o) => o !== 'detector').map((o) => service(o, 'a service never imports another')),
    ],
  ),
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);

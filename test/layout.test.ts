// The repository's shape, checked: every package builds its src/ without tests into its dist/, and type-checks
// its tests and test-support/ in a project of their own (ARCHITECTURE.md, "Who may import what").
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PACKAGES = ['libs', 'services'].flatMap((dir) =>
  readdirSync(join(ROOT, dir), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join(dir, d.name)),
);

function filesOf(project: string): string[] {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, project),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error(`${project}: not a TypeScript project`);
  return parsed.fileNames.map((f) => relative(ROOT, f));
}

const isTestFile = (f: string): boolean => /\.test\.ts$/.test(f) || f.includes('/test-support/');

describe('every package', () => {
  it.each(PACKAGES)('%s builds its sources without a test or a test helper', (pkg) => {
    const built = filesOf(`${pkg}/tsconfig.build.json`);
    expect(built.length).toBeGreaterThan(0);
    expect(built.filter(isTestFile)).toEqual([]);
    expect(built.every((f) => f.startsWith(`${pkg}/src/`))).toBe(true);
  });

  it.each(PACKAGES)('%s type-checks every one of its tests in its test project', (pkg) => {
    const tests = filesOf(`${pkg}/tsconfig.test.json`);
    const onDisk = readdirSync(join(ROOT, pkg), { recursive: true, encoding: 'utf8' })
      .map((f) => join(pkg, f))
      .filter((f) => !f.includes('node_modules') && !f.includes('/dist/') && f.endsWith('.ts') && isTestFile(f));
    expect(tests.sort()).toEqual(onDisk.sort());
  });
});

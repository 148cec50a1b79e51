// Every error code of every package's catalogue (`libs/*/src/errors.ts`, `services/*/src/errors.ts`) is in the
// README's troubleshooting table, and every code in that table is in a catalogue: fastify tests its FST_ERR_*
// catalogue against its docs the same way, so an operator who meets a code always finds what to do.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { catalogueEntries, type CatalogueEntry } from '@vigie/errors';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** `libs/x/src/errors.ts` and `services/y/src/errors.ts`, relative to the root. */
function catalogueFiles(): string[] {
  return ['libs', 'services'].flatMap((dir) =>
    readdirSync(join(ROOT, dir))
      .map((name) => `${dir}/${name}/src/errors.ts`)
      .filter((file) => existsSync(join(ROOT, file))),
  );
}

/** The catalogues each file exports, by file. */
async function loadCatalogues(): Promise<Map<string, (readonly CatalogueEntry[])[]>> {
  const out = new Map<string, (readonly CatalogueEntry[])[]>();
  for (const file of catalogueFiles()) {
    const exports = (await import(pathToFileURL(join(ROOT, file)).href)) as Record<string, unknown>;
    out.set(
      file,
      Object.values(exports).flatMap((value) => {
        const entries = catalogueEntries(value);
        return entries ? [entries] : [];
      }),
    );
  }
  return out;
}

/** The first cell of each row of the README's troubleshooting table. */
function troubleshootingFirstCells(): string[] {
  const start = README.indexOf('\n## Troubleshooting\n');
  expect(start, 'README has a "## Troubleshooting" section').toBeGreaterThan(-1);
  const end = README.indexOf('\n## ', start + 1);
  const section = README.slice(start, end === -1 ? undefined : end);
  return section
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) => line.split('|')[1]!.trim());
}

/** Codes written in backquotes in a first cell (`VIGIE_PGLOG_SOURCE_READ <errno>` names VIGIE_PGLOG_SOURCE_READ). */
function codesOfCell(cell: string): { codes: string[]; shorthands: string[] } {
  const spans = [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  return {
    codes: spans.flatMap((span) => [...span.matchAll(/\bVIGIE_[A-Z0-9_]*[A-Z0-9]\b/g)].map((m) => m[0])),
    shorthands: spans.filter((span) => /^_[A-Z]/.test(span)),
  };
}

describe('error catalogues', () => {
  it('each errors.ts exports one catalogue of well-formed codes, and no code is in two catalogues', async () => {
    const catalogues = await loadCatalogues();
    expect(catalogues.size).toBeGreaterThanOrEqual(9);
    const owner = new Map<string, string>();
    for (const [file, exported] of catalogues) {
      expect(exported.length, `${file} exports ${exported.length} catalogues`).toBe(1);
      expect(exported[0]!.length, `${file} lists no code`).toBeGreaterThan(0);
      for (const { key, code, meaning } of exported[0]!) {
        expect(code, `${file} ${key}`).toMatch(/^VIGIE_[A-Z0-9]+(_[A-Z0-9]+)+$/);
        expect(code === `VIGIE_${key}` || code.endsWith(`_${key}`), `${file}: key ${key} for ${code}`).toBe(true);
        expect(meaning.trim().length, `${file} ${code} has a meaning`).toBeGreaterThan(10);
        expect(meaning, `${file} ${code}: one line`).not.toContain('\n');
        expect(owner.get(code), `${code} in ${file} and ${owner.get(code)}`).toBeUndefined();
        owner.set(code, file);
      }
    }
  });

  it("match the README's troubleshooting table both ways: every code documented, none stale", async () => {
    const catalogued = new Set<string>(
      [...(await loadCatalogues()).values()].flatMap((exported) => exported.flatMap((c) => c.map((e) => e.code))),
    );
    const documented = new Set<string>();
    const shorthands: string[] = [];
    for (const cell of troubleshootingFirstCells()) {
      const { codes, shorthands: short } = codesOfCell(cell);
      for (const code of codes) documented.add(code);
      shorthands.push(...short.map((s) => `${s} in "${cell}"`));
    }
    // `VIGIE_X_READ` / `_CORRUPT` cannot be checked: write each code in full.
    expect(shorthands, 'shorthand codes in the table').toEqual([]);
    expect(documented.size).toBeGreaterThan(40);
    expect([...catalogued].filter((c) => !documented.has(c)).sort(), 'codes missing from the table').toEqual([]);
    expect([...documented].filter((c) => !catalogued.has(c)).sort(), 'codes in the table but in no catalogue').toEqual(
      [],
    );
  });
});

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KAFKA_PROTOCOL_ERRORS, kafkaError } from './error-codes.js';

const SRC = fileURLToPath(new URL('..', import.meta.url));
const README = readFileSync(fileURLToPath(new URL('../../../../README.md', import.meta.url)), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const path = join(dir, f);
    if (statSync(path).isDirectory()) return sources(path);
    return f.endsWith('.ts') && !f.endsWith('.test.ts') ? [path] : [];
  });
}

describe('the Kafka error table', () => {
  it('gives every never-succeeding code the coded error the caller sees', () => {
    for (const [code, e] of Object.entries(KAFKA_PROTOCOL_ERRORS)) {
      if (e.action === 'fatal' || e.action === 'reject')
        expect(e.vigieCode, `${code} ${e.name}`).toMatch(/^VIGIE_KAFKA_/);
    }
    expect(new Set(Object.values(KAFKA_PROTOCOL_ERRORS).map((e) => e.name)).size).toBe(
      Object.keys(KAFKA_PROTOCOL_ERRORS).length,
    );
  });

  it('classifies what the issue names: leadership and timeouts retried, authorization and bad records never', () => {
    const action = (n: number) => kafkaError(n).action;
    expect([6, 5, 7, 14, 19, 20].map(action)).toEqual(['refresh', 'refresh', 'retry', 'retry', 'retry', 'retry']);
    expect([29, 31, 35, 58].map(action)).toEqual(['fatal', 'fatal', 'fatal', 'fatal']);
    expect([2, 10, 18, 87].map(action)).toEqual(['reject', 'reject', 'reject', 'reject']);
    expect([45, 47, 59].map(action)).toEqual(['new-producer', 'new-producer', 'new-producer']);
    expect(kafkaError(9999)).toEqual({ name: 'KAFKA_ERROR_9999', action: 'new-producer' });
  });

  it('documents every VIGIE_KAFKA_ code the library raises in the README troubleshooting table', () => {
    const raised = new Set<string>();
    for (const file of sources(SRC)) {
      for (const m of readFileSync(file, 'utf8').matchAll(/'(VIGIE_KAFKA_[A-Z_]+)'/g)) raised.add(m[1]!);
    }
    for (const e of Object.values(KAFKA_PROTOCOL_ERRORS)) if (e.vigieCode) raised.add(e.vigieCode);
    const table = README.slice(README.indexOf('## Troubleshooting'));
    const missing = [...raised].filter((code) => !table.includes(`\`${code}\``));
    expect(raised.size).toBeGreaterThan(10);
    expect(missing).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { EgressConfig } from '@vigie/collector-egress';
import { CollectorPglogConfig } from '@vigie/collector-pglog';
import { ReplicationConfig } from '@vigie/collector-replication';
import { DetectorConfig } from '@vigie/detector';
import { SitePolicy } from '@vigie/policy';
import { ConfigError, validateConfig } from '@vigie/runtime';

// Every configuration a Vigie command reads, with the smallest input it accepts. A file of the wrong shape at any
// place must give a ConfigError listing problems (exit 2), never a TypeError from a check that assumed a shape.
const SCHEMAS: [string, z.ZodType, Record<string, unknown>][] = [
  ['site policy', SitePolicy, { clusters: [{ name: 'local', environment: 'production' }] }],
  ['detector', DetectorConfig, { profile: 'local', api: { token: 'shape-test-token-0123456789' } }],
  ['collector-pglog', CollectorPglogConfig, { source: { pgData: '/var/lib/postgresql/15/main' } }],
  ['collector-replication', ReplicationConfig, {}],
  ['collector-egress', EgressConfig, {}],
];

const WRONG: unknown[] = [3, 'x', true, null, [], [3], ['x'], [{}], {}, { unexpected: 1 }];

/** Every path of a parsed configuration: objects are walked, arrays are a path and their first element too. */
function paths(value: unknown, prefix: string[] = []): string[][] {
  const out: string[][] = prefix.length > 0 ? [prefix] : [];
  if (Array.isArray(value)) {
    if (value.length > 0) out.push(...paths(value[0], [...prefix, '0']));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  }
  return out;
}

function withValueAt(base: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const root = structuredClone(base);
  let cur: Record<string, unknown> = root;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (next === null || typeof next !== 'object') cur[key] = /^\d+$/.test(key) ? [] : {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1] as string] = value;
  return root;
}

describe.each(SCHEMAS)('%s configuration of the wrong shape', (_name, schema, base) => {
  it('accepts the minimal input (the walk below starts from a valid configuration)', () => {
    expect(() => validateConfig(schema, base, 'base')).not.toThrow();
  });

  it('lists problems for a wrong value at every path, never throws anything but a ConfigError', () => {
    // The paths come from the parsed configuration, so every block with defaults is visited.
    const parsed = validateConfig(schema, base, 'base');
    const all = paths(parsed);
    expect(all.length).toBeGreaterThan(5);
    const crashes: string[] = [];
    for (const path of all) {
      for (const wrong of WRONG) {
        try {
          validateConfig(schema, withValueAt(base, path, wrong), 'test');
        } catch (error) {
          if (!(error instanceof ConfigError)) {
            crashes.push(`${path.join('.')} = ${JSON.stringify(wrong)}: ${String(error)}`);
          }
        }
      }
    }
    expect(crashes).toEqual([]);
  });

  it.each([
    ['an empty document', {}],
    ['a scalar', 3],
    ['a string', 'production'],
    ['a list', [base]],
    ['null', null],
  ])('%s at the root: a ConfigError', (_what, raw) => {
    try {
      validateConfig(schema, raw, 'test');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
    }
  });
});

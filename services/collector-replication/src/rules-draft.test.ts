import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ChangeTxnEvent, PublicationStatusEvent, SlotStatusEvent } from '@vigie/contract';

// The rule drafts' fixtures must be events this collector can actually emit: validate them against the contract.
const root = fileURLToPath(new URL('../rules-draft/fixtures/', import.meta.url));
const schemas = {
  'change.txn': ChangeTxnEvent,
  'replication.slot': SlotStatusEvent,
  'replication.publication': PublicationStatusEvent,
} as const;

const files = readdirSync(root).flatMap((rule) => readdirSync(join(root, rule)).map((f) => join(rule, f)));

describe('rule draft fixtures', () => {
  it('exist for every drafted rule, with matching and non-matching cases', () => {
    expect(files.filter((f) => f.includes('/match-')).length).toBeGreaterThanOrEqual(3);
    expect(files.filter((f) => f.includes('/nomatch-')).length).toBeGreaterThanOrEqual(3);
  });

  it.each(files)('%s holds valid write-side events', (file) => {
    const doc = parse(readFileSync(join(root, file), 'utf8')) as { events: { kind: string }[]; alerts: unknown[] };
    expect(Array.isArray(doc.alerts)).toBe(true);
    for (const event of doc.events) {
      const schema = schemas[event.kind as keyof typeof schemas];
      if (!schema) continue; // statement events are the pglog collector's
      const result = schema.safeParse(event);
      expect(result.error?.issues ?? []).toEqual([]);
    }
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RuleSet } from '../src/engine/rule-api.js';
import { loadRules } from '../src/rules/load.js';

/** Rules that report a session for its place or account alone, whatever it does. */
const SESSION_PLACE_RULES = ['bastion-bypass', 'generic-account-interactive'] as const;

let siteFile: string | undefined;

/**
 * Test helper: the shipped rules without {@link SESSION_PLACE_RULES}, for tests about the engine's mechanics
 * (revisions, restarts, announcements) told through the dump, read and off-hours rules, whose sessions come from
 * outside the bastion: every such session would also be a bastion-bypass incident of its own. A fresh set at each
 * call (rules keep state).
 */
export function mechanicsRules(): RuleSet {
  if (siteFile === undefined) {
    siteFile = join(mkdtempSync(join(tmpdir(), 'vigie-mechanics-rules-')), 'site.yaml');
    writeFileSync(siteFile, JSON.stringify({ overrides: SESSION_PLACE_RULES.map((id) => ({ id, enabled: false })) }));
  }
  return loadRules({ siteFile });
}

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROLES, STACK } from '@vigie/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { replayMain } from './replay.js';
import { captureReplayIo } from '../../test-support/replay-io.js';

// Real lines captured from the local cluster (test/fixtures/pglog): sessions of admin (SUPERUSER) and dba_alice
// (CREATEROLE, pg_read_all_data), the stack's roles with the same attributes today.
const CAPTURED = fileURLToPath(new URL('../../../../test/fixtures/pglog/cases.json', import.meta.url));

const io = captureReplayIo;

/** No hour is business time and the policy lists no privileged role: only the catalog can say who is. */
function neverBusinessPolicy(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'vigie-replay-policy-')), 'policy.yaml');
  writeFileSync(
    file,
    `clusters: [{ name: local, environment: production }]
bastion: { networks: ['127.0.0.2/32'] }
businessHours: { timezone: Europe/Paris, days: [] }
personalData: { tables: ['public.citizens', 'social.*'] }
`,
  );
  return file;
}

const savedPassword = process.env['PGPASSWORD'];
afterEach(() => {
  if (savedPassword === undefined) delete process.env['PGPASSWORD'];
  else process.env['PGPASSWORD'] = savedPassword;
});

describe('replay --pg', () => {
  it("reads privileged roles from the cluster's catalog: off-hours alerts for the superuser and the DBA", async () => {
    // The password from the environment, not the command line (libpq's PGPASSWORD, read by node-postgres too).
    process.env['PGPASSWORD'] = ROLES.collector;
    const conn = `postgresql://${ROLES.collector}@${STACK.pg.host}:${STACK.pg.port}/postgres`;
    const r = io();
    await replayMain(
      [CAPTURED, '--json', '--policy', neverBusinessPolicy(), '--pg', conn],
      { PGPASSWORD: ROLES.collector },
      r,
    );
    expect(r.err, r.err).toMatch(/vigie replay: \d+ privileged role\(s\) read from the cluster's catalog \(--pg\)/);
    expect(r.err).not.toContain('warning:'); // the summary on stderr has a `warning` severity column
    expect(r.code).toBe(0);
    const offHours = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['rule'] === 'off-hours-privileged-session');
    expect(new Set(offHours.map((l) => l['login']))).toEqual(new Set([ROLES.superuser, ROLES.dba]));
    // contractor_bob and app_backend are not privileged: their sessions in the same log raise nothing here.
    expect(
      offHours.every((l) => l['summary'] !== undefined && String(l['summary']).startsWith('privileged session')),
    ).toBe(true);
  });
});

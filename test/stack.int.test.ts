import { readFileSync } from 'node:fs';
import { waitFor } from '@vigie/runtime';
import { ROLES, connectAs, currentLogFile, queryAs, uniqueName } from '@vigie/testkit';
import { describe, expect, it } from 'vitest';

interface JsonLogRecord {
  user?: string;
  dbname?: string;
  application_name?: string;
  error_severity?: string;
  message?: string;
  session_id?: string;
}

function recordsOf(file: string, applicationName: string): JsonLogRecord[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.includes(applicationName))
    .map((line) => JSON.parse(line) as JsonLogRecord);
}

describe('the local PostgreSQL cluster', () => {
  it('runs PostgreSQL 15 with pgaudit preloaded and logical WAL', async () => {
    // shared_preload_libraries is readable only by superusers and pg_read_all_settings.
    const { rows } = await queryAs<{ version: string; spl: string; wal: string }>(
      ROLES.superuser,
      "SELECT current_setting('server_version') AS version, current_setting('shared_preload_libraries') AS spl, current_setting('wal_level') AS wal",
    );
    expect(rows[0]?.version).toMatch(/^15\./);
    expect(rows[0]?.spl).toContain('pgaudit');
    expect(rows[0]?.wal).toBe('logical');
  });

  it('holds the synthetic personal data with valid NIR keys', async () => {
    const { rows } = await queryAs<{ n: string; bad: string }>(
      ROLES.dba,
      // NIR key = 97 - (13 first digits mod 97), with 2A/2B read as 19/18 for the computation.
      `SELECT count(*) AS n,
              count(*) FILTER (WHERE 97 - (replace(replace(left(nir, 13), '2A', '19'), '2B', '18')::numeric % 97)
                                     <> right(nir, 2)::int) AS bad
         FROM public.citizens`,
    );
    expect(Number(rows[0]?.n)).toBeGreaterThanOrEqual(100_000);
    expect(Number(rows[0]?.bad)).toBe(0);
  });

  it('writes an AUDIT record to the jsonlog for a SELECT on app', async () => {
    const app = uniqueName('stack-test');
    const client = await connectAs(ROLES.dba, { applicationName: app });
    try {
      await client.query('SELECT id, last_name FROM public.citizens WHERE id = $1', [42]);
    } finally {
      await client.end();
    }
    const audit = await waitFor(
      () =>
        recordsOf(currentLogFile('jsonlog'), app).find(
          (r) => r.message?.startsWith('AUDIT: SESSION,') && r.message.includes('public.citizens'),
        ),
      { timeoutMs: 15_000, what: 'the AUDIT line in the jsonlog' },
    );
    expect(audit.user).toBe(ROLES.dba);
    expect(audit.dbname).toBe('app');
    expect(audit.message).toMatch(/^AUDIT: SESSION,\d+,1,READ,SELECT,TABLE,public\.citizens,"?SELECT id, last_name/);
    // Connection lines are logged too, so the collector can build the session.
    const lines = recordsOf(currentLogFile('jsonlog'), app).map((r) => r.message ?? '');
    expect(lines.some((m) => m.startsWith('connection authorized: user=dba_alice database=app'))).toBe(true);
  });
});

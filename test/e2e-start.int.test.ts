import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@vigie/runtime';
import { REPO_ROOT, ROLES, STACK, exclusive, queryAs } from '@vigie/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALWAYS_BUSINESS_HOURS, createRole, dropRoles, pgProgram, suffix, writePolicy } from './support/e2e.js';

// The README's main job, as a user runs it: `vigie start` (what `npm start` runs), a real pg_dump from another
// terminal, the alert printed, the same alert behind the printed API token, then Ctrl-C.
const dumper = `e2e_start_${suffix()}`;
let child: ChildProcess | undefined;
let slotExisted = false;
let release: (() => void) | undefined;

beforeAll(async () => {
  // `vigie start` exists once per stack (fixed ports, slot, store schema): one test file at a time.
  release = await exclusive('vigie-start');
  await createRole(dumper, { privileged: true });
  const { rows } = await queryAs(ROLES.superuser, "SELECT 1 FROM pg_replication_slots WHERE slot_name = 'vigie_slot'");
  slotExisted = rows.length > 0;
}, 660_000); // the lock waits for another file's `vigie start` (at most 600 s)

afterAll(async () => {
  // After a failed assertion `vigie start` still runs: Ctrl-C first, so it stops the services it started (a
  // SIGKILL would leave them holding the fixed ports for the next run), SIGKILL only if it hangs.
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGINT');
    await waitFor(() => child?.exitCode !== null || child.signalCode !== null, {
      timeoutMs: 30_000,
      what: 'vigie start to stop',
    }).catch(() => child?.kill('SIGKILL'));
  }
  release?.();
  await dropRoles([dumper]);
  // The replication collector's slot retains WAL while nothing reads it: drop it unless it was there before.
  if (!slotExisted) {
    await queryAs(
      ROLES.superuser,
      "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'vigie_slot' AND NOT active",
    ).catch(() => undefined);
  }
});

describe('vigie start (npm start)', () => {
  it('prints the dump alert of a real pg_dump, serves it through the API, and stops on Ctrl-C', async () => {
    const started = spawn(process.execPath, [join(REPO_ROOT, 'services/cli/bin/vigie.js'), 'start'], {
      // Its own state (configurations, checkpoint, token): it starts at the end of the log, like a first run. The
      // shipped policy's business hours would add an off-hours alert for the privileged dumper at night or on a
      // weekend: this site's hours are explicit.
      env: {
        ...process.env,
        VIGIE_START_DIR: mkdtempSync(join(tmpdir(), 'vigie-start-')),
        VIGIE_POLICY: writePolicy('local', ALWAYS_BUSINESS_HOURS),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    let out = '';
    started.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    started.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('Waiting for alerts') || started.exitCode !== null, {
      timeoutMs: 150_000,
      intervalMs: 250,
      what: 'vigie start to be ready',
    });
    expect(started.exitCode, out).toBeNull();
    for (const service of ['collector-pglog', 'collector-replication', 'collector-egress', 'detector']) {
      expect(out).toContain(`${service}: ready on http://127.0.0.1:`);
    }
    expect(out).toContain(`${STACK.alertmanagerUrl}/api/v2/alerts`);
    // Where the evidence is, how to sign in, and how many alerts were already open (the store is the stack's: an
    // earlier run's may still be open).
    expect(out).toMatch(
      /Evidence pages http:\/\/127\.0\.0\.1:18080\/alerts +\(sign in with the token in .+\/api-token\)/,
    );
    expect(out).toMatch(/\n(No alert open so far|\d+ alerts? (is|are) already open \(.+\), not reprinted: see http)/);

    await pgProgram('pg_dump', dumper, ['app']);
    const line = await waitFor(
      () => out.split('\n').find((l) => l.includes('ALERT CRITICAL dump') && l.includes(dumper)),
      { timeoutMs: 60_000, intervalMs: 250, what: 'the dump alert printed' },
    );
    expect(line).toContain(`pg_dump of app`);
    expect(line).toContain('(not the bastion)');
    expect(line).not.toContain('catch-up');
    // The evidence page's URL follows, naming the alert by its opaque reference.
    const lines = out.split('\n');
    const evidence = lines[lines.indexOf(line) + 1];
    expect(evidence).toMatch(/^ {4}evidence: http:\/\/127\.0\.0\.1:18080\/alerts\/[0-9a-f]{32}$/);

    const token = /Bearer ([^']+)'/.exec(out)?.[1];
    expect(token).toBeDefined();
    const res = await fetch(`http://127.0.0.1:18080/api/alerts?rule=dump&role=${dumper}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = (await res.json()) as { alerts: { alert: { summary: string } }[] };
    expect(body.alerts.map((a) => a.alert.summary)).toHaveLength(1);
    // Printed once, however many revisions the dump went through (one per table copied, resolution pending).
    expect(out.split('\n').filter((l) => l.includes('ALERT CRITICAL dump') && l.includes(dumper))).toHaveLength(1);

    started.kill('SIGINT');
    await waitFor(() => started.exitCode !== null, { timeoutMs: 30_000, what: 'vigie start to stop' });
    expect(started.exitCode).toBe(0);
    // What it started is gone with it.
    await expect(fetch('http://127.0.0.1:18080/healthz')).rejects.toThrow();
  });
});

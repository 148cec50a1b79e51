import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { ROLES, queryAs, STACK, STATE_DIR } from '@vigie/testkit';
import { describe, expect, it } from 'vitest';

// The stack's state directory holds Kafka's data (events, alerts), configurations with passwords, the API token
// and service logs. No other local user may enter it; PostgreSQL (user postgres) must still reach its data
// directory below it. The global setup ran `stack.sh up`, so this is the state it leaves.

/** Exit status of a command run as another local user (the tests run as root, as the stack requires). */
function as(user: string, ...command: string[]): number | null {
  return spawnSync('runuser', ['-u', user, '--', ...command], { cwd: '/', stdio: 'ignore' }).status;
}

describe('the local stack state directory', () => {
  it('admits root and the postgres group (traverse only), nobody else', () => {
    const st = statSync(STATE_DIR);
    const postgresGid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    expect((st.mode & 0o777).toString(8)).toBe('710');
    expect(st.uid).toBe(0);
    expect(st.gid).toBe(postgresGid);
  });

  it('keeps other local users out of everything in it', () => {
    // An unprivileged user can neither list it nor reach anything below, whatever the inner modes are.
    expect(as('nobody', 'ls', STATE_DIR)).not.toBe(0);
    expect(as('nobody', 'test', '-x', STATE_DIR)).not.toBe(0);
    for (const inner of ['kafka', 'logs', 'postgresql', 'prometheus', 'alertmanager']) {
      expect(as('nobody', 'stat', join(STATE_DIR, inner)), inner).not.toBe(0);
    }
  });

  it('lets PostgreSQL reach its data directory, and the cluster runs from it', async () => {
    expect(as('postgres', 'test', '-r', join(STACK.pgDataDir, 'PG_VERSION'))).toBe(0);
    // Traverse is all the group gets: no listing of the state directory.
    expect(as('postgres', 'ls', STATE_DIR)).not.toBe(0);
    const { rows } = await queryAs<{ dir: string }>(ROLES.superuser, "SELECT current_setting('data_directory') AS dir");
    expect(rows[0]?.dir).toBe(STACK.pgDataDir);
  });
});

import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { STACK } from '@vigie/testkit';
import { replayMain } from './replay.js';
import { captureReplayIo } from '../../test-support/replay-io.js';

// `vigie replay --pg` against the real cluster: the password never travels on the command line, and each place
// a PostgreSQL client looks for it is honoured (a wrong one is refused by the server, which proves it was used).
const LOG = fileURLToPath(new URL('../../../detector/rules/fixtures/logs/pg-dump-app.json', import.meta.url));
const ROLE = 'dba_alice'; // its password on the local stack is its name
const URL_NO_PASSWORD = `postgresql://${ROLE}@${STACK.pg.host}:${STACK.pg.port}/postgres`;

const io = captureReplayIo;

function secretFile(name: string, text: string, mode = 0o600): string {
  const file = join(mkdtempSync(join(tmpdir(), 'vigie-replay-pg-')), name);
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

// No HOME: a ~/.pgpass of the machine running the tests must not answer for them.
const BASE_ENV = { HOME: '/nonexistent' };

async function run(args: string[], env: Record<string, string> = {}) {
  const r = io();
  await replayMain([LOG, '--pg', ...args], { ...BASE_ENV, ...env }, r);
  return r;
}

describe('vigie replay --pg on the real cluster', () => {
  it('refuses a password on the command line, without printing it (exit 2)', async () => {
    const r = await run([`postgresql://${ROLE}:${ROLE}-typed-here@${STACK.pg.host}:${STACK.pg.port}/postgres`]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--pg: expected a URL without a password');
    expect(r.err).toContain('PGPASSWORD');
    expect(r.err).not.toContain('typed-here');
    const query = await run([`${URL_NO_PASSWORD}?password=${ROLE}-in-query`]);
    expect(query.code).toBe(2);
    expect(query.err).not.toContain('in-query');
  });

  it('takes the password from PGPASSWORD', async () => {
    expect((await run([URL_NO_PASSWORD], { PGPASSWORD: ROLE })).code).toBe(0);
    const wrong = await run([URL_NO_PASSWORD], { PGPASSWORD: 'not-the-password' });
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('password authentication failed');
    expect(wrong.err).not.toContain('not-the-password');
  });

  it('takes the password from --pg-password-file', async () => {
    expect((await run([URL_NO_PASSWORD, '--pg-password-file', secretFile('pw', `${ROLE}\n`)])).code).toBe(0);
    const missing = await run([URL_NO_PASSWORD, '--pg-password-file', '/nonexistent/pw']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('--pg-password-file: expected a readable file');
  });

  it('takes the password from PGPASSFILE, and ignores one others can read, as libpq does', async () => {
    const lines = `# host:port:database:user:password\n${STACK.pg.host}:${STACK.pg.port}:*:contractor_bob:x\n${STACK.pg.host}:${STACK.pg.port}:postgres:${ROLE}:${ROLE}\n`;
    expect((await run([URL_NO_PASSWORD], { PGPASSFILE: secretFile('pgpass', lines) })).code).toBe(0);
    const open = await run([URL_NO_PASSWORD], { PGPASSFILE: secretFile('pgpass', lines, 0o644) });
    expect(open.err).toContain('is ignored: group or world can read it');
    expect(open.code).toBe(1);
  });
});

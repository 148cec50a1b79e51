import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@vigie/runtime';
import { STATE_DIR } from './stack.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Takes a lock shared by every test process on this stack (integration files run in parallel workers): for what
 * exists once per stack, such as `vigie start` and its fixed ports, replication slot and store schema. A lock
 * whose holder died is taken over. Returns the release function.
 */
export async function exclusive(name: string, { timeoutMs = 600_000 } = {}): Promise<() => void> {
  const dir = join(STATE_DIR, 'test-locks', name);
  mkdirSync(join(STATE_DIR, 'test-locks'), { recursive: true });
  await waitFor(
    () => {
      try {
        mkdirSync(dir);
      } catch {
        let holder = Number.NaN;
        try {
          holder = Number(readFileSync(join(dir, 'pid'), 'utf8'));
        } catch {
          // being written: try again
        }
        if (Number.isInteger(holder) && !alive(holder)) rmSync(dir, { recursive: true, force: true });
        return false;
      }
      writeFileSync(join(dir, 'pid'), String(process.pid));
      return true;
    },
    { timeoutMs, intervalMs: 500, what: `the test lock ${name}` },
  );
  return () => rmSync(dir, { recursive: true, force: true });
}

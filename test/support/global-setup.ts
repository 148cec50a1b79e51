import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, stackUp } from '@vigie/testkit';

/**
 * Integration tests run against the real local stack and, for end-to-end scenarios, the real `vigie` command built
 * from this workspace: build (incremental, seconds when up to date), then bring the stack up (idempotent).
 * Set VIGIE_STACK_EXTERNAL=1 to test against a stack someone else started (same addresses).
 */
export default function setup(): void {
  execFileSync(join(REPO_ROOT, 'node_modules/.bin/tsc'), ['-b'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (process.env['VIGIE_STACK_EXTERNAL'] !== '1') stackUp();
}

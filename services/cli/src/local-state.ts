import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the repository (this file is services/cli/src or services/cli/dist). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The local stack's state directory (`npm run stack`); VIGIE_STACK_DIR moves it. */
export function stackDir(env: Record<string, string | undefined>): string {
  return env['VIGIE_STACK_DIR'] ?? join(REPO_ROOT, '.stack');
}

/** Where `vigie start` keeps its own state (configurations, checkpoint, API token); VIGIE_START_DIR moves it. */
export function localVigieDir(env: Record<string, string | undefined>): string {
  return env['VIGIE_START_DIR'] ?? join(stackDir(env), 'vigie');
}

import { expiryMs } from './compiled.js';
import type { SitePolicy } from './schema.js';

/**
 * What a valid policy says that is probably no longer meant: bastion exceptions whose expiry has passed (they
 * exempt nothing any more). Startup logs these and `vigie config check` prints them as warnings.
 */
export function policyWarnings(policy: Readonly<SitePolicy>, nowMs: number): string[] {
  return policy.bastion.exceptions.flatMap((e, n) =>
    nowMs >= expiryMs(e.expires)
      ? [
          `bastion.exceptions.${n} (${e.name}): expired on ${e.expires}, it no longer exempts anyone; remove it or renew it`,
        ]
      : [],
  );
}

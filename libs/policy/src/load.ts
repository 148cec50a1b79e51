import { fileURLToPath } from 'node:url';
import { readYamlFile, validateConfig } from '@vigie/runtime';
import { compilePolicy, type CompiledPolicy } from './compiled.js';
import { SitePolicy } from './schema.js';

/** The policy shipped for the local stack, used when neither `--policy` nor `VIGIE_POLICY` names one. */
export const DEFAULT_POLICY_FILE = fileURLToPath(new URL('../default-policy.yaml', import.meta.url));

/** Picks the policy file: the `--policy` argument, else `VIGIE_POLICY`, else the shipped default. */
export function policyFileFrom(argument: string | undefined, env: Record<string, string | undefined>): string {
  return argument ?? env['VIGIE_POLICY'] ?? DEFAULT_POLICY_FILE;
}

/** Reads and validates a site policy file; throws ConfigError listing every problem. */
export function loadPolicy(file: string = DEFAULT_POLICY_FILE): Readonly<SitePolicy> {
  return validateConfig(SitePolicy, readYamlFile(file), file);
}

/**
 * The site policy a service or command runs with: the file named by `--policy` (`argument`), else `VIGIE_POLICY`,
 * else the shipped default, validated and compiled. The one way every entry point loads it; throws ConfigError
 * listing every problem.
 */
export function loadSitePolicy(argument: string | undefined, env: Record<string, string | undefined>): CompiledPolicy {
  return compilePolicy(loadPolicy(policyFileFrom(argument, env)));
}

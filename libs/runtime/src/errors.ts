import { defineErrors, VigieError } from '@vigie/errors';

/** Error codes of `@vigie/runtime`: configuration and the HTTP API every service serves. */
export const RUNTIME_ERRORS = defineErrors({
  CONFIG_INVALID: [
    'VIGIE_CONFIG_INVALID',
    'the configuration, the policy, a rule file or a startup check failed; every problem is listed',
  ],
  API_BAD_REQUEST: ['VIGIE_API_BAD_REQUEST', 'an HTTP request had an invalid query, body, URL or content type (400)'],
  API_NOT_FOUND: ['VIGIE_API_NOT_FOUND', 'an HTTP request named an unknown path or object (404)'],
  API_TOO_LARGE: ['VIGIE_API_TOO_LARGE', 'an HTTP request body was larger than the server accepts (413)'],
  API_UNAUTHORIZED: ['VIGIE_API_UNAUTHORIZED', 'an HTTP request lacked the right Bearer token (401)'],
  API_INTERNAL: ['VIGIE_API_INTERNAL', 'an HTTP request failed inside the service; the log has its requestId (500)'],
});

/** One problem in a configuration: where, what was expected, what was found. */
export interface ConfigProblem {
  path: string;
  expected: string;
  found: string;
}

/** Invalid configuration: every problem listed; the service must not start (exit code 2). */
export class ConfigError extends VigieError {
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[],
  ) {
    super(
      RUNTIME_ERRORS.CONFIG_INVALID,
      `invalid configuration (${source}):\n${problems
        .map((p) => `  - ${p.path || '(root)'}: expected ${p.expected}, found ${p.found}`)
        .join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

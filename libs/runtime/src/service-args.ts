import { parseArgs } from 'node:util';
import { EXIT } from './main.js';

/** The command line every service takes: `--config <file>` (else `VIGIE_CONFIG`) and `--policy <file>`. */
export interface ServiceArgs {
  config: string | undefined;
  policy: string | undefined;
}

/**
 * Parses `vigie run <service>`'s arguments; an unknown option or a stray argument prints the usage and exits 2,
 * like any other invalid configuration.
 */
export function parseServiceArgs(
  service: string,
  args: string[],
  env: Record<string, string | undefined>,
): ServiceArgs {
  try {
    const { values } = parseArgs({
      args,
      options: { config: { type: 'string' }, policy: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    });
    return { config: values.config ?? env['VIGIE_CONFIG'], policy: values.policy };
  } catch (error) {
    process.stderr.write(
      `${service}: ${(error as Error).message}\nusage: vigie run ${service} [--config <file>] [--policy <file>]\n`,
    );
    process.exit(EXIT.config);
  }
}

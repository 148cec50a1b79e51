import { ConfigError, describeError, EXIT, loadConfig, parseServiceArgs } from '@vigie/runtime';
import { DetectorConfig } from '../../config.js';
import { createAlertStore } from './alert-store.js';

/** Where `vigie store-migrate` writes and how it exits (tests pass their own). */
export interface MigrateIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  exit: (code: number) => void;
}

const processIo: MigrateIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  exit: (code) => process.exit(code),
};

/**
 * `vigie store-migrate [--config <detector config>]`: applies the alert store's migrations and the runtime role's
 * grants through `store.migrationConnectionString`, then exits. A site runs it at each upgrade (as a one-off job
 * holding the owner's password) and leaves the owner's connection out of the running detector's configuration.
 */
export async function storeMigrateMain(
  args: string[],
  env: Record<string, string | undefined>,
  io: MigrateIo = processIo,
): Promise<void> {
  const values = parseServiceArgs('store-migrate', args, env);
  try {
    const config = loadConfig(DetectorConfig, { file: values.config, env });
    if (config.store.migrationConnectionString === undefined) {
      throw new ConfigError(values.config ?? 'defaults + environment', [
        {
          path: 'store.migrationConnectionString',
          expected: "the store owner's connection (env VIGIE_STORE__MIGRATION_CONNECTION_STRING)",
          found: 'nothing',
        },
      ]);
    }
    const store = createAlertStore({
      connectionString: config.store.connectionString,
      migrationConnectionString: config.store.migrationConnectionString,
      schema: config.store.schema,
    });
    try {
      const applied = await store.migrate();
      const excess = await store.runtimePrivilegeProblems();
      io.stdout(
        `vigie store-migrate: schema ${config.store.schema}: ${applied.length > 0 ? `applied ${applied.join(', ')}` : 'already current'}; runtime role ${excess.length > 0 ? `still ${excess.join('; ')}` : 'limited to its grants'}\n`,
      );
    } finally {
      await store.close();
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`${error.message}\n`);
      return io.exit(EXIT.config);
    }
    io.stderr(`vigie store-migrate: ${describeError(error)}\n`);
    return io.exit(EXIT.failure);
  }
  return io.exit(EXIT.ok);
}

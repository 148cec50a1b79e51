import { EXIT, describeError } from '@vigie/runtime';
import { isService, SERVICES } from './services.js';

/** What every service package exports for the CLI: `main(args, env)` runs it until SIGINT/SIGTERM. */
interface ServiceModule {
  main(args: string[], env: Record<string, string | undefined>): Promise<void>;
}

const USAGE = `usage:
  vigie start [--secure]                        run the local stack, the collectors and the detector; print alerts
                                                (--secure: through Kafka's SASL_SSL listener, one user per service)
  vigie run <service> [--config <file>] [--policy <file>]
                                                services: ${SERVICES.join(', ')}
  vigie replay <log files…> [--policy <file>] [--json] [--pg <postgresql:// URL without password>]
                                                run the rules over historical PostgreSQL logs (jsonlog or csvlog,
                                                plain or .gz; --since/--until, --role, --rule: vigie replay --help)
  vigie store-migrate [--config <detector config>]
                                                apply the alert store's migrations and grants as its owner
  vigie config check [--service <name>] [--env-file <file>]… [--strict] <file…>
                                                validate service configurations (and policies) without starting
  vigie policy check <file>                     validate a site policy
  vigie policy explain --role R [--addr A] [--at T] [--cluster C] [--policy <file>]
                                                how the policy classifies a session (bastion, hours, watchlist…)
  vigie rules test [--rules <site rules file>] [--fixtures <dir>]
                                                run the shipped and site rule fixtures; pass/fail per rule (exit 1
                                                on any failure)
  vigie respond <alert-id> [--terminate] [--lock [--for 4h]] [--yes | --dry-run]
                                                end the alert's session and/or lock its login for a while, through
                                                the detector's API (a dry run unless --yes: vigie respond --help)
environment: VIGIE_POLICY (site policy file), VIGIE_PROFILE (local | production), VIGIE_<SECTION>__<KEY> overrides any
  configuration value`;

async function dispatch(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const env = process.env;
  switch (command) {
    case 'run': {
      const [service, ...args] = rest;
      if (!isService(service)) {
        process.stderr.write(`vigie run: unknown service ${JSON.stringify(service ?? '')}\n${USAGE}\n`);
        process.exit(EXIT.config);
      }
      const mod = (await import(`@vigie/${service}`)) as ServiceModule;
      return mod.main(args, env);
    }
    case 'replay': {
      const { replayMain } = await import('./replay/replay.js');
      return replayMain(rest, env);
    }
    case 'store-migrate': {
      const mod = (await import('@vigie/detector')) as { storeMigrateMain: ServiceModule['main'] };
      return mod.storeMigrateMain(rest, env);
    }
    case 'config': {
      const { configMain } = await import('./config-check.js');
      return process.exit(configMain(rest, env));
    }
    case 'policy': {
      const { policyMain } = await import('./policy-commands.js');
      return process.exit(policyMain(rest, env));
    }
    case 'rules': {
      const [sub, ...args] = rest;
      if (sub !== 'test') {
        process.stderr.write(`vigie rules: unknown command ${JSON.stringify(sub ?? '')} (vigie rules test)\n`);
        process.exit(EXIT.config);
      }
      const mod = (await import('@vigie/detector')) as {
        rulesTestMain(args: string[], env: Record<string, string | undefined>): number;
      };
      return process.exit(mod.rulesTestMain(args, env));
    }
    case 'respond': {
      const { respondMain } = await import('./respond-command.js');
      return process.exit(await respondMain(rest, env));
    }
    case 'start': {
      const { startMain } = await import('./start.js');
      return startMain(rest, env);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      process.stderr.write(`vigie: unknown command ${JSON.stringify(command)}\n${USAGE}\n`);
      process.exit(EXIT.config);
  }
}

dispatch(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`vigie: ${describeError(error)}\n`);
  process.exit(EXIT.failure);
});

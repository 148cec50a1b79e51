import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ResponseAction } from '@vigie/contract';
import { parseDuration } from '@vigie/policy';
import { EXIT } from '@vigie/runtime';
import { PROCESS_OUTPUT, type Output } from './config-check.js';
import { localVigieDir } from './local-state.js';

const RESPOND_USAGE = `usage:
  vigie respond <alert-id> [--terminate] [--lock [--for <duration>]] [--yes | --dry-run] [--by <name>]
                [--url <detector URL>] [--token-file <file>]
      --terminate   end the alert's session (pg_terminate_backend of its backend)
      --lock        turn its login role's LOGIN off (ALTER ROLE … NOLOGIN); Vigie turns it back on after --for
      --for         lock duration: 20s, 15m, 4h, 7d (default: the policy's response.lockFor)
      --yes         really do it; without it (or with --dry-run) Vigie only says what it would do
      --by          who asks, recorded with each action (default: $USER)
      --url         the detector (default: $VIGIE_URL or http://127.0.0.1:18080)
      --token-file  the API token (default: $VIGIE_API_TOKEN, else the local stack's token of \`vigie start\`)
  exit 0: done (or planned); 1: refused by the response policy, or an action failed; 2: bad usage`;

/** What `vigie respond` sends, once its arguments are read. */
interface Request {
  alertId: string;
  url: string;
  token: string;
  body: { terminate: boolean; lock: boolean; lockFor?: string; dryRun: boolean; by: string };
}

function readRequest(args: string[], env: Record<string, string | undefined>): Request | string {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        terminate: { type: 'boolean', default: false },
        lock: { type: 'boolean', default: false },
        for: { type: 'string' },
        yes: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        by: { type: 'string' },
        url: { type: 'string' },
        'token-file': { type: 'string' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    return (error as Error).message;
  }
  const v = parsed.values;
  const problems: string[] = [];
  const [alertId, ...extra] = parsed.positionals;
  if (alertId === undefined || alertId === '') problems.push('give the alert id');
  if (extra.length > 0) problems.push(`one alert id only (also given: ${extra.join(' ')})`);
  if (!v.terminate && !v.lock) problems.push('ask for --terminate and/or --lock');
  if (v.for !== undefined && !v.lock) problems.push('--for is the duration of a --lock');
  if (v.for !== undefined && parseDuration(v.for) === undefined) {
    problems.push(`--for: expected a duration such as 20s, 15m, 4h or 7d, found ${JSON.stringify(v.for)}`);
  }
  if (v.yes && v['dry-run']) problems.push('--yes and --dry-run contradict each other');
  let token = env['VIGIE_API_TOKEN'];
  const tokenFile = v['token-file'] ?? (token === undefined ? join(localVigieDir(env), 'api-token') : undefined);
  if (tokenFile !== undefined) {
    if (existsSync(tokenFile)) token = readFileSync(tokenFile, 'utf8').trim();
    else problems.push(`no API token: ${tokenFile} does not exist (give --token-file or VIGIE_API_TOKEN)`);
  }
  if (problems.length > 0 || alertId === undefined || token === undefined) return problems.join('; ');
  return {
    alertId,
    token,
    url: (v.url ?? env['VIGIE_URL'] ?? 'http://127.0.0.1:18080').replace(/\/+$/, ''),
    body: {
      terminate: v.terminate,
      lock: v.lock,
      ...(v.for !== undefined && { lockFor: v.for }),
      dryRun: !v.yes,
      by: v.by ?? env['USER'] ?? 'cli',
    },
  };
}

/** One line per action: what, on whom, the result and why. */
function actionLine(a: ResponseAction): string {
  const target = a.pid !== undefined ? `${a.role} (backend ${a.pid})` : a.role;
  return `  ${a.action.padEnd(9)} ${target}: ${a.result} — ${a.detail}`;
}

/** `vigie respond <alert-id> …`: asks the detector's API; returns the exit code. */
export async function respondMain(
  args: string[],
  env: Record<string, string | undefined>,
  io: Output = PROCESS_OUTPUT,
  fetchFn: typeof fetch = fetch,
): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.out(RESPOND_USAGE);
    return EXIT.ok;
  }
  const request = readRequest(args, env);
  if (typeof request === 'string') {
    io.err(`vigie respond: ${request}\n${RESPOND_USAGE}`);
    return EXIT.config;
  }
  const target = `${request.url}/api/alerts/${encodeURIComponent(request.alertId)}/response`;
  let res: Response;
  try {
    res = await fetchFn(target, {
      method: 'POST',
      headers: { authorization: `Bearer ${request.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(request.body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    io.err(`vigie respond: the detector at ${request.url} did not answer: ${(error as Error).message}`);
    return EXIT.failure;
  }
  const body = (await res.json().catch(() => ({}))) as {
    status?: string;
    actions?: ResponseAction[];
    error?: string;
    message?: string;
  };
  if (!res.ok) {
    io.err(`vigie respond: ${body.error ?? res.status}: ${body.message ?? res.statusText}`);
    return EXIT.failure;
  }
  const actions = body.actions ?? [];
  if (body.status === 'dry-run') {
    io.out(`dry run: nothing done for alert ${request.alertId}; this is what --yes would do:`);
  } else {
    io.out(`done for alert ${request.alertId}:`);
  }
  for (const a of actions) io.out(actionLine(a));
  return actions.some((a) => a.result === 'failed' || a.result === 'refused') ? EXIT.failure : EXIT.ok;
}

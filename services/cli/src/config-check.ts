import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { EgressConfig } from '@vigie/collector-egress';
import { CollectorPglogConfig } from '@vigie/collector-pglog';
import { ReplicationConfig } from '@vigie/collector-replication';
import { DetectorConfig, loadRules } from '@vigie/detector';
import { loadPolicy, policyWarnings, SitePolicy } from '@vigie/policy';
import {
  ConfigError,
  connectionCredentials,
  describeError,
  EXIT,
  isSecretName,
  loadConfig,
  readConfigText,
  readYamlFile,
} from '@vigie/runtime';
import { SERVICES, type ServiceName } from './services.js';

/** Where a command writes: stdout for results, stderr for usage errors (tests capture both). */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** The process's own streams. */
export const PROCESS_OUTPUT: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** What a configuration file can be for: one of the four services, or the site policy. */
export const CONFIG_KINDS = [...SERVICES, 'policy'] as const;
/** See {@link CONFIG_KINDS}. */
export type ConfigKind = ServiceName | 'policy';

const SCHEMAS: Record<ConfigKind, z.ZodType> = {
  'collector-pglog': CollectorPglogConfig,
  'collector-replication': ReplicationConfig,
  'collector-egress': EgressConfig,
  detector: DetectorConfig,
  policy: SitePolicy,
};

/** The top-level settings a schema knows (an object, possibly refined, or a pipe whose input is one). */
function topLevelKeys(schema: z.ZodType): string[] {
  let cur: unknown = schema;
  for (let depth = 0; depth < 5 && cur !== undefined; depth += 1) {
    const shape = (cur as { shape?: Record<string, unknown> }).shape;
    if (shape !== undefined) return Object.keys(shape);
    cur = (cur as { in?: unknown }).in;
  }
  return [];
}

const KEYS = Object.fromEntries(CONFIG_KINDS.map((k) => [k, topLevelKeys(SCHEMAS[k])])) as Record<ConfigKind, string[]>;

/** Top-level settings that exactly one kind knows: a file using one of them is for that kind. */
const TELLING: Record<ConfigKind, Set<string>> = Object.fromEntries(
  CONFIG_KINDS.map((k) => [
    k,
    new Set(KEYS[k].filter((key) => CONFIG_KINDS.every((other) => other === k || !KEYS[other].includes(key)))),
  ]),
) as Record<ConfigKind, Set<string>>;

/**
 * Which configuration a file is, when `--service` does not say: its name if it contains exactly one kind's name
 * (`collector-egress.yaml`, `db1-detector.yml`, `policy.yaml`), else the top-level settings only one kind has
 * (`slot:` is collector-replication's, `api:` the detector's, `clusters:` the policy's). Undefined when neither
 * tells (the caller asks for `--service`).
 */
export function recogniseKind(file: string, raw: Record<string, unknown>): ConfigKind | undefined {
  const name = basename(file).toLowerCase();
  // `collector-pglog` does not contain another kind's name, nor does any other: a plain substring test is enough.
  const byName = CONFIG_KINDS.filter((k) => name.includes(k));
  if (byName.length === 1) return byName[0];
  const byKeys = CONFIG_KINDS.filter((k) => Object.keys(raw).some((key) => TELLING[k].has(key)));
  return byKeys.length === 1 ? byKeys[0] : undefined;
}

/** Paths present in `raw` that the validated configuration dropped: settings the service does not know. */
export function unknownSettings(raw: unknown, parsed: unknown, prefix: string[] = []): string[] {
  if (Array.isArray(raw) && Array.isArray(parsed)) {
    return raw.flatMap((item, i) => unknownSettings(item, parsed[i], [...prefix, String(i)]));
  }
  if (raw === null || typeof raw !== 'object' || parsed === null || typeof parsed !== 'object') return [];
  const out: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in parsed)) out.push([...prefix, key].join('.'));
    else out.push(...unknownSettings(value, (parsed as Record<string, unknown>)[key], [...prefix, key]));
  }
  return out;
}

/**
 * Secrets written into the file itself (not the environment): a non-empty value under a secret-named setting
 * (`password`, `token`, `hmacKey`; not `passwordFile` or `keyFile`, which name files), or a connection string
 * carrying a password. Each path is returned, never the value.
 */
export function inlineSecrets(raw: unknown, prefix: string[] = []): string[] {
  if (Array.isArray(raw)) return raw.flatMap((v, i) => inlineSecrets(v, [...prefix, String(i)]));
  if (raw === null || typeof raw !== 'object') return [];
  const out: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const path = [...prefix, key];
    if (typeof value === 'string' && value !== '') {
      const secretName = isSecretName(key) && !/File$/.test(key);
      if (secretName || connectionCredentials(value)?.password !== undefined) out.push(path.join('.'));
    } else out.push(...inlineSecrets(value, path));
  }
  return out;
}

/**
 * Reads a systemd `EnvironmentFile=`: `KEY=value` lines, `#` and `;` comments, values optionally in single or
 * double quotes. Only what a Vigie environment file needs; a line that is none of these is a problem.
 */
export function readEnvFile(file: string): Record<string, string> {
  const text = readConfigText(file, 'a readable environment file');
  const env: Record<string, string> = {};
  const problems: { path: string; expected: string; found: string }[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) return;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(t);
    if (!m) {
      // The line is not echoed: it may hold a secret.
      problems.push({ path: `line ${i + 1}`, expected: 'KEY=value', found: 'something else' });
      return;
    }
    const value = m[2] as string;
    const quoted = /^(["'])(.*)\1$/.exec(value);
    env[m[1] as string] = quoted ? (quoted[2] as string) : value;
  });
  if (problems.length > 0) throw new ConfigError(file, problems);
  return env;
}

/** The outcome of checking one file. */
export interface FileCheck {
  file: string;
  kind: ConfigKind | undefined;
  /** Every problem that would stop the service, as the service prints them (empty: valid). */
  problems: string[];
  /** What the service would accept but is likely a mistake: unknown settings, secrets written in the file. */
  warnings: string[];
}

/**
 * Checks one configuration file the way its service loads it at startup (`loadConfig` with the same schema, the
 * file merged with `VIGIE_*` variables of `env`), then looks for what the service would silently accept: settings
 * it does not know (a typo keeps the default) and secrets written in the file.
 */
export function checkConfigFile(file: string, env: Record<string, string | undefined>, kind?: ConfigKind): FileCheck {
  let raw: Record<string, unknown>;
  try {
    raw = readYamlFile(file);
  } catch (error) {
    return { file, kind, problems: problemLines(error), warnings: [] };
  }
  const k = kind ?? recogniseKind(file, raw);
  if (k === undefined) {
    return {
      file,
      kind: undefined,
      problems: [
        `  - (root): expected a configuration of ${CONFIG_KINDS.join(', ')} (name the file after it, or pass ` +
          '--service <name>), found no setting that tells which',
      ],
      warnings: [],
    };
  }
  let parsed: unknown;
  try {
    // The policy takes no environment overrides: its services read the file as it is (loadPolicy).
    parsed = k === 'policy' ? loadPolicy(file) : loadConfig(SCHEMAS[k], { file, env });
  } catch (error) {
    return { file, kind: k, problems: problemLines(error), warnings: [] };
  }
  // The detector also loads the site's rule file at startup, with the shipped rules: check it the same way.
  const rulesFile = k === 'detector' ? (parsed as DetectorConfig).engine.rulesFile : undefined;
  if (rulesFile !== undefined) {
    try {
      loadRules({ siteFile: rulesFile });
    } catch (error) {
      const lines = problemLines(error).map((l) => l.replace(/^ {2}- /, `  - engine.rulesFile (${rulesFile}): `));
      return { file, kind: k, problems: lines, warnings: [] };
    }
  }
  // The file's own settings only: the environment holds variables for other purposes (VIGIE_POLICY, VIGIE_CONFIG).
  const warnings = [
    ...(k === 'policy' ? policyWarnings(parsed as SitePolicy, Date.now()) : []),
    ...unknownSettings(raw, parsed).map((p) => `${p}: unknown setting, ignored by ${k} (a typo keeps the default)`),
    ...inlineSecrets(raw).map(
      (p) => `${p}: a secret written in the file; give it in the environment file (VIGIE_…) or a file it names`,
    ),
  ];
  return { file, kind: k, problems: [], warnings };
}

/** The problem lines of a ConfigError (`  - path: expected …, found …`), or the error itself. */
function problemLines(error: unknown): string[] {
  if (error instanceof ConfigError) {
    return error.problems.map((p) => `  - ${p.path || '(root)'}: expected ${p.expected}, found ${p.found}`);
  }
  return [`  - ${describeError(error)}`];
}

const CONFIG_USAGE = `usage: vigie config check [--service <${CONFIG_KINDS.join('|')}>] [--env-file <file>]… [--strict] <file…>
  Validates each file as its service would at startup, without starting anything. The kind of each file comes from
  --service, else from its name (collector-egress.yaml, policy.yaml), else from the settings only one kind has.
  --env-file: a systemd EnvironmentFile whose VIGIE_* variables count as the service's environment (repeatable).
  --strict: warnings (unknown settings, secrets in the file) fail too.
  Exit 0: every file valid; 2: a problem (each one printed with its path).`;

/** `vigie config check …`: returns the exit code. */
export function configMain(
  args: string[],
  env: Record<string, string | undefined>,
  io: Output = PROCESS_OUTPUT,
): number {
  const [sub, ...rest] = args;
  if (sub !== 'check') {
    io.err(sub === undefined ? CONFIG_USAGE : `vigie config: unknown command ${JSON.stringify(sub)}\n${CONFIG_USAGE}`);
    return EXIT.config;
  }
  let values: { service?: string | undefined; 'env-file'?: string[] | undefined; strict?: boolean | undefined };
  let files: string[];
  try {
    const parsed = parseArgs({
      args: rest,
      options: {
        service: { type: 'string' },
        'env-file': { type: 'string', multiple: true },
        strict: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    });
    values = parsed.values;
    files = parsed.positionals;
  } catch (error) {
    io.err(`vigie config check: ${(error as Error).message}\n${CONFIG_USAGE}`);
    return EXIT.config;
  }
  const kind = values.service;
  if (kind !== undefined && !(CONFIG_KINDS as readonly string[]).includes(kind)) {
    io.err(`vigie config check: unknown --service ${JSON.stringify(kind)}\n${CONFIG_USAGE}`);
    return EXIT.config;
  }
  if (files.length === 0) {
    io.err(`vigie config check: no file given\n${CONFIG_USAGE}`);
    return EXIT.config;
  }
  let merged: Record<string, string | undefined> = { ...env };
  let failed = false;
  for (const envFile of values['env-file'] ?? []) {
    try {
      merged = { ...merged, ...readEnvFile(envFile) };
    } catch (error) {
      io.out(`invalid ${envFile} (environment file)`);
      for (const line of problemLines(error)) io.out(line);
      failed = true;
    }
  }
  for (const file of files) {
    const result = checkConfigFile(file, merged, kind as ConfigKind | undefined);
    const what = result.kind ?? 'unknown kind';
    if (result.problems.length > 0) {
      failed = true;
      const n = result.problems.length;
      io.out(`invalid ${file} (${what}): ${n} problem${n === 1 ? '' : 's'}`);
      for (const line of result.problems) io.out(line);
    } else {
      io.out(`ok      ${file} (${what})`);
    }
    for (const w of result.warnings) io.out(`  warning: ${w}`);
    if (values.strict === true && result.warnings.length > 0) failed = true;
  }
  return failed ? EXIT.config : EXIT.ok;
}

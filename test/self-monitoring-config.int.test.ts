import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@vigie/testkit';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const RULES_DIR = join(REPO_ROOT, 'deploy/prometheus/rules');
const AM_CONFIG = join(REPO_ROOT, 'deploy/alertmanager/alertmanager.yml');

/** Runs a tool, returning its exit code and output (a failing check is an assertion, not an exception). */
async function tool(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd: RULES_DIR });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

// promtool and amtool come with Debian's prometheus and prometheus-alertmanager packages, which the stack installs
// (the integration project's global setup), hence an integration test although nothing here talks to a server.
describe("Vigie's self-monitoring configuration", () => {
  const rules = readdirSync(RULES_DIR).filter((f) => f.endsWith('.yml') && !f.endsWith('.test.yml'));

  it('has a promtool unit test file for every rule file, and every alert is tested firing', async () => {
    expect(rules.length).toBeGreaterThan(0);
    for (const file of rules) {
      const testFile = file.replace(/\.yml$/, '.test.yml');
      expect(readdirSync(RULES_DIR)).toContain(testFile);
      const alerts = [...readFileSync(join(RULES_DIR, file), 'utf8').matchAll(/^\s*- alert: (\w+)/gm)].map((m) => m[1]);
      const tests = readFileSync(join(RULES_DIR, testFile), 'utf8');
      for (const alert of alerts) {
        // An alert tested firing: its name followed by a non-empty exp_alerts list.
        expect(tests, `${alert} tested firing`).toMatch(
          new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`),
        );
      }
    }
  });

  it('passes promtool check rules and promtool test rules', async () => {
    const check = await tool('promtool', ['check', 'rules', ...rules]);
    expect(check.out).toContain('SUCCESS');
    expect(check.code, check.out).toBe(0);
    const test = await tool('promtool', ['test', 'rules', ...rules.map((f) => f.replace(/\.yml$/, '.test.yml'))]);
    expect(test.code, test.out).toBe(0);
    expect(test.out).not.toContain('FAILED');
  });

  it('passes amtool check-config, and the routing tree sends each severity to its receiver', async () => {
    const check = await tool('amtool', ['check-config', AM_CONFIG]);
    expect(check.code, check.out).toBe(0);
    const routes: [string[], string][] = [
      [['severity=critical', 'alert_id=dump:local:6b07e274.1be5', 'rule=dump', 'source=vigie'], 'vigie-critical'],
      [['severity=warning', 'alert_id=bulk-read:local:6b07e274.1be5', 'rule=bulk-read'], 'vigie-warning'],
      [['severity=info', 'alertname=VigieRecordsRejected', 'job=vigie-collector-pglog'], 'vigie-info'],
      [['severity=critical', 'alertname=VigieDetectorDown', 'job=vigie-detector'], 'vigie-critical'],
      // A label set no route expects still reaches someone.
      [['alertname=Unlabelled'], 'vigie-warning'],
    ];
    for (const [labels, receiver] of routes) {
      const res = await tool('amtool', [
        'config',
        'routes',
        'test',
        `--config.file=${AM_CONFIG}`,
        `--verify.receivers=${receiver}`,
        ...labels,
      ]);
      expect(res.code, `${labels.join(' ')} → ${receiver}: ${res.out}`).toBe(0);
      expect(res.out.trim().split('\n')[0]).toBe(receiver);
    }
  });
});

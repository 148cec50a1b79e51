import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, STACK } from '@vigie/testkit';
import { describe, expect, it } from 'vitest';

interface Dashboard {
  uid: string;
  panels: { title: string; datasource: { uid: string }; targets: { expr: string }[] }[];
}

const dir = join(REPO_ROOT, 'grafana', 'dashboards');
const dashboards = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Dashboard);
const datasources = readFileSync(join(REPO_ROOT, 'grafana/provisioning/datasources/vigie.yaml'), 'utf8');

describe('Grafana dashboards', () => {
  it('use the provisioned datasource', () => {
    expect(dashboards.length).toBeGreaterThan(0);
    for (const d of dashboards) {
      for (const p of d.panels) expect(p.datasource.uid, p.title).toBe('vigie-prometheus');
    }
    expect(datasources).toContain('uid: vigie-prometheus');
    expect(datasources).toContain(`url: ${STACK.prometheusUrl}`);
  });

  it('only hold queries the real Prometheus accepts', async () => {
    const exprs = dashboards.flatMap((d) =>
      d.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr }))),
    );
    expect(exprs.length).toBeGreaterThan(10);
    for (const { panel, expr } of exprs) {
      const response = await fetch(`${STACK.prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await response.json()) as { status: string; error?: string };
      expect({ panel, status: body.status, error: body.error }).toEqual({ panel, status: 'success', error: undefined });
    }
  });
});

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, STACK } from '@vigie/testkit';
import { describe, expect, it } from 'vitest';

interface Dashboard {
  uid: string;
  panels: { title: string; datasource: { uid: string }; targets: { expr?: string; datasource?: { uid: string } }[] }[];
  annotations: { list: { name: string; expr?: string; datasource: { uid: string } }[] };
}

const dir = join(REPO_ROOT, 'grafana', 'dashboards');
const dashboards = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Dashboard);
const datasources = readFileSync(join(REPO_ROOT, 'grafana/provisioning/datasources/vigie.yaml'), 'utf8');
// The datasources provisioned in grafana/provisioning/datasources/vigie.yaml, by uid.
const PROVISIONED = ['vigie-prometheus', 'vigie-alertmanager', 'vigie-alertmanager-alerts'];

describe('Grafana dashboards', () => {
  it('use the provisioned datasources, pointed at the local stack', () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual(['vigie-pipeline-health', 'vigie-security-overview']);
    for (const d of dashboards) {
      for (const p of d.panels) {
        expect(PROVISIONED, p.title).toContain(p.datasource.uid);
        for (const t of p.targets) expect(t.datasource?.uid ?? p.datasource.uid, p.title).toBe(p.datasource.uid);
      }
    }
    for (const uid of PROVISIONED) expect(datasources).toContain(`uid: ${uid}`);
    expect(datasources).toContain(`url: ${STACK.prometheusUrl}`);
    expect(datasources).toContain(`url: ${STACK.alertmanagerUrl}`);
  });

  it('only hold queries the real Prometheus accepts', async () => {
    const exprs = dashboards.flatMap((d) => [
      ...d.panels.flatMap((p) =>
        p.datasource.uid === 'vigie-prometheus' ? p.targets.map((t) => ({ panel: p.title, expr: t.expr ?? '' })) : [],
      ),
      ...d.annotations.list
        .filter((a) => a.datasource.uid === 'vigie-prometheus')
        .map((a) => ({ panel: `annotation ${a.name}`, expr: a.expr ?? '' })),
    ]);
    expect(exprs.length).toBeGreaterThan(10);
    for (const { panel, expr } of exprs) {
      // Grafana's interval variable, as Grafana replaces it (at least four scrape intervals of 5 s).
      const query = expr.replaceAll('$__rate_interval', '20s');
      const response = await fetch(`${STACK.prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
      const body = (await response.json()) as { status: string; error?: string };
      expect({ panel, status: body.status, error: body.error }).toEqual({ panel, status: 'success', error: undefined });
    }
  });
});

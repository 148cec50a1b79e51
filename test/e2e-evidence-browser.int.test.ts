import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { alertRef } from '@vigie/detector';
import { waitFor } from '@vigie/runtime';
import { REPO_ROOT, ROLES, queryAs, realClockEnv } from '@vigie/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ALWAYS_BUSINESS_HOURS,
  createRole,
  dropRoles,
  pgProgram,
  startPipeline,
  suffix,
  writePolicy,
  type Pipeline,
} from './support/e2e.js';

// The README's quick start ends here: on-call follows the evidence link of a real pg_dump in a real browser
// (Debian's chromium, driven by playwright-core, which downloads no browser of its own). Unauthenticated, the link
// lands on the sign-in page; signed in with the token, the list shows the alert, its page shows the tables and
// the session's timeline, the acknowledgement is recorded, and the JSON API has it. Screenshots of each step go to
// dist/test-output/evidence/ (ignored by git) for a human to look at.
const id = suffix();
const cluster = `browser-${id}`;
const dumper = `e2e_browser_${id}`;
const SHOTS = join(REPO_ROOT, 'dist/test-output/evidence');
let pipeline: Pipeline | undefined;
let browser: Browser | undefined;

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // Installs chromium once (apt), prints its path.
  const executablePath = execFileSync('bash', [join(REPO_ROOT, 'deploy/local/ensure-chromium.sh')], {
    encoding: 'utf8',
  }).trim();
  browser = await chromium.launch({
    executablePath,
    headless: true,
    // Chromium's sandbox refuses to run as root (this machine's CI and sessions run as root); outside root the
    // sandbox stays on. The pages run no script, and the browser only visits this test's loopback detector.
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    // On-call's browser is another machine on real time (and Chromium does not start under libfaketime): under
    // `test/support/faked-clock.sh` the detector's clock and the browser's differ, as they may at a site.
    env: realClockEnv(),
  });
  await createRole(dumper);
  // pg_dump also reads the sequences; the role stays unprivileged.
  await queryAs(ROLES.superuser, `GRANT SELECT ON ALL SEQUENCES IN SCHEMA public, social TO ${dumper}`, [], {
    database: 'app',
  });
  pipeline = await startPipeline(cluster, writePolicy(cluster, ALWAYS_BUSINESS_HOURS));
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await pipeline?.stop();
  await dropRoles([dumper]);
});

describe('evidence page in a real browser', () => {
  it('signs in, opens the pg_dump alert from the list, shows its tables and timeline, and records the ack', async () => {
    const p = pipeline as Pipeline;
    const base = `http://127.0.0.1:${p.detector.port}`;
    await pgProgram('pg_dump', dumper, ['app']);
    await waitFor(async () => (await p.alertsFor(dumper)).find((a) => a.rule === 'dump'), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'the dump alert',
    });
    // Its final state: the alert opens on pg_dump's first COPY and gains a table with each later one.
    await p.drained();
    const alert = (await p.alertsFor(dumper)).find((a) => a.rule === 'dump');
    if (alert === undefined) throw new Error('the dump alert went away');
    const ref = alertRef(alert.id);

    const context = await (browser as Browser).newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    // A CSP violation (the stylesheet refused, say) or any script error shows up here.
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));

    // The notification's link, unauthenticated: the sign-in page, which remembers where to go.
    await page.goto(`${base}/alerts/${ref}`);
    expect(new URL(page.url()).pathname).toBe('/signin');
    await expect(page.locator('h1').textContent()).resolves.toContain('Sign in');
    await shot(page, '1-signin');

    // Sign in with the detector's token and a name for acknowledgements; back to the alert's page.
    await page.fill('input[name="token"]', p.token);
    await page.fill('input[name="name"]', 'on-call Camille');
    await Promise.all([page.waitForURL(`${base}/alerts/${ref}`), page.click('button[type="submit"]')]);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'vigie_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: false });

    // The list, then the alert from it.
    await page.goto(`${base}/alerts`);
    const link = page.locator(`a[href="/alerts/${ref}"]`);
    await expect(link.count()).resolves.toBe(1);
    await expect(link.textContent()).resolves.toContain('pg_dump of app');
    await shot(page, '2-alert-list');
    await Promise.all([page.waitForURL(`${base}/alerts/${ref}`), link.click()]);

    // Who, what (every table of the alert), the statements and the session's timeline.
    const text = (await page.locator('main').innerText()).replace(/\s+/g, ' ');
    expect(text).toContain(dumper);
    expect(text).toContain('pg_dump');
    expect(alert.what.tables.length).toBeGreaterThan(1);
    const tables = await page.locator('ul.tables li').allTextContents();
    expect(tables.sort()).toEqual([...alert.what.tables].sort());
    const timeline = page.locator('table.timeline tbody tr');
    expect(await timeline.count()).toBeGreaterThan(2);
    const kinds = await page.locator('table.timeline tbody tr td:nth-child(2)').allTextContents();
    expect(kinds).toContain('statement');
    expect(await page.locator('table.timeline').innerText()).toContain('COPY');
    // The stylesheet was allowed by the CSP and applied (Vigie serves it; no CDN).
    const font = await page
      .locator('body')
      .evaluate((b) => b.ownerDocument.defaultView?.getComputedStyle(b).fontFamily);
    expect(font).toContain('system-ui');
    await shot(page, '3-alert');

    // Acknowledge with a comment.
    const comment = `called ${dumper}'s manager; dump was a planned migration test`;
    await page.fill('textarea[name="comment"]', comment);
    await Promise.all([
      page.waitForURL(`${base}/alerts/${ref}?acked=1`),
      page.click('form.stack button[type="submit"]'),
    ]);
    await expect(page.locator('p.ack').innerText()).resolves.toContain('Acknowledged by on-call Camille');
    await shot(page, '4-acknowledged');

    // The JSON API (bearer token) has the acknowledgement.
    const res = await fetch(`${base}/api/alerts/${encodeURIComponent(alert.id)}`, {
      headers: { authorization: `Bearer ${p.token}` },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { ack?: unknown }).ack).toMatchObject({ by: 'on-call Camille', comment });
    expect(problems).toEqual([]);

    // Sign out: the session cookie no longer opens the page.
    await Promise.all([page.waitForURL(`${base}/signin`), page.click('header form button')]);
    await page.goto(`${base}/alerts/${ref}`);
    expect(new URL(page.url()).pathname).toBe('/signin');
    await context.close();
  }, 180_000);
});

import type { StoredAlert } from '../../sinks/store/alert-store.js';
import { html, type SafeHtml } from '../html.js';
import { formatTime } from './format.js';
import { layout, type Viewer } from './layout.js';

/** The filter fields of the alert list, as the form posts them (all optional). */
export const FILTER_FIELDS = ['rule', 'severity', 'status', 'cluster', 'role', 'since', 'until'] as const;
/** One filter field. */
export type FilterField = (typeof FILTER_FIELDS)[number];

/** What the alert list shows. */
export interface AlertListView {
  viewer: Viewer;
  alerts: { stored: StoredAlert; ref: string }[];
  filter: Partial<Record<FilterField, string>>;
  /** Why the posted filter was refused, if it was. */
  error?: string;
  limit: number;
}

function options(name: FilterField, values: readonly string[], current: string | undefined): SafeHtml {
  return html`<select name="${name}">
    <option value="">any</option>
    ${values.map((v) => html`<option value="${v}" ${current === v ? html` selected` : ''}>${v}</option>`)}
  </select>`;
}

/** `/alerts`: the filter form (posted, so a role name never lands in a URL) and the newest alerts first. */
export function alertListPage({ viewer, alerts, filter, error, limit }: AlertListView): SafeHtml {
  const text = (name: FilterField, label: string, type = 'text') =>
    html`<label>${label}<input type="${type}" name="${name}" value="${filter[name] ?? ''}" /></label>`;
  return layout(
    'Alerts',
    html`<h1>Alerts</h1>
      <form class="filters" method="post" action="/alerts/filter">
        <input type="hidden" name="csrf" value="${viewer.csrf}" />
        ${text('rule', 'Rule')}
        <label>Severity${options('severity', ['critical', 'warning', 'info'], filter.severity)}</label>
        <label>Status${options('status', ['firing', 'resolved'], filter.status)}</label>
        ${text('cluster', 'Cluster')} ${text('role', 'Role (login or effective)')}
        ${text('since', 'Seen after (UTC)', 'datetime-local')} ${text('until', 'Seen before (UTC)', 'datetime-local')}
        <button type="submit">Filter</button>
      </form>
      ${error !== undefined ? html`<p class="notice error" role="alert">${error}</p>` : ''}
      ${
        alerts.length === 0
          ? html`<p class="notice">No alert matches.</p>`
          : html`<table class="alerts">
                <thead>
                  <tr>
                    <th>Last seen</th>
                    <th>Severity</th>
                    <th>Status</th>
                    <th>Rule</th>
                    <th>Summary</th>
                    <th>Who</th>
                    <th>From</th>
                    <th>Ack</th>
                  </tr>
                </thead>
                <tbody>
                  ${alerts.map(({ stored: { alert: a, ack }, ref }) => {
                    const who =
                      a.who.effectiveRole && a.who.effectiveRole !== a.who.login
                        ? `${a.who.login ?? '?'} → ${a.who.effectiveRole}`
                        : a.who.login;
                    return html`<tr>
                      <td class="time">${formatTime(a.lastSeen)}</td>
                      <td class="sev sev-${a.severity}">${a.severity}</td>
                      <td class="status-${a.status}">${a.status}</td>
                      <td>${a.rule}</td>
                      <td><a href="/alerts/${ref}">${a.summary || a.title}</a></td>
                      <td>${who ?? ''}</td>
                      <td>${a.where.clientClass}</td>
                      <td>${ack ? html`by ${ack.by}` : html`<span class="muted">no</span>`}</td>
                    </tr>`;
                  })}
                </tbody>
              </table>
              <p class="muted">
                ${alerts.length} alert(s) shown${alerts.length >= limit ? html`, the newest ${limit}` : ''}.
              </p>`
      }`,
    viewer,
  );
}

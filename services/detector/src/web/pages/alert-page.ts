import type { AlertRevision, StoredAlert, TimelineEntry } from '../../sinks/store/alert-store.js';
import { html, type SafeHtml } from '../html.js';
import { formatBytes, formatCount, formatTime } from './format.js';
import { layout, type Viewer } from './layout.js';

/** What an alert's evidence page shows. */
export interface AlertPageView {
  viewer: Viewer;
  stored: StoredAlert;
  ref: string;
  revisions: AlertRevision[];
  timeline: TimelineEntry[];
  /** True when the timeline was cut at its limit. */
  timelineTruncated: boolean;
  runbookUrl?: string | undefined;
  /** Set right after an acknowledgement (post-redirect-get). */
  notice?: string | undefined;
}

const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => String(x)) : []);

/** One timeline event as a row: what happened, in the event's own (redacted) words. */
function timelineDetail(entry: TimelineEntry): SafeHtml {
  const b = entry.body;
  switch (entry.kind) {
    case 'statement': {
      const objects = list(b['objects']);
      const copy = b['copy'] as { direction?: unknown; target?: unknown } | undefined;
      return html`<div>
          ${str(b['command']) ?? ''}${objects.length > 0 ? html` on ${objects.join(', ')}` : ''}${
            str(b['rows']) !== undefined ? html` · ${formatCount(Number(b['rows']))} rows` : ''
          }${str(b['effectiveRole']) !== undefined ? html` · as ${str(b['effectiveRole'])}` : ''}${
            copy ? html` · COPY ${str(copy.direction) ?? ''} ${str(copy.target) ?? ''}` : ''
          }
        </div>
        <pre>${str(b['text']) ?? ''}</pre>`;
    }
    case 'session.start':
      return html`<div>
        ${str(b['user']) ?? '?'} on ${str(b['database']) ?? '?'} from
        ${str(b['clientAddr']) ?? '?'}${
          str(b['applicationName']) !== undefined ? html` (application ${str(b['applicationName'])})` : ''
        }${b['ssl'] === true ? ' · TLS' : ''}
      </div>`;
    case 'session.end':
      return html`<div>session ended after ${formatCount(Number(b['durationMs'] ?? 0) / 1000)} s</div>`;
    case 'egress.sample':
      return html`<div>
        ${formatBytes(Number(b['bytesSent'] ?? 0))} sent so far${b['final'] === true ? ' (final)' : ''}
      </div>`;
    case 'change.txn':
      return html`<div>
        transaction ${str(b['xid']) ?? ''}: ${formatCount(Number(b['totalRows'] ?? 0))} rows changed in
        ${list(b['tables']).join(', ')}
      </div>`;
    default:
      return html`<pre>
${Object.entries(b)
          .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join('\n')}</pre>`;
  }
}

function fact(label: string, value: unknown): SafeHtml {
  const shown = value === undefined || value === '' ? html`<span class="muted">unknown</span>` : value;
  return html`<dt>${label}</dt>
    <dd>${shown}</dd>`;
}

/**
 * `/alerts/:ref`: the evidence on-call needs at 3 a.m. — who, from where, what, the statements in order with their
 * redacted text, the session's timeline, the alert's revisions — and the acknowledgement form.
 */
export function alertPage(view: AlertPageView): SafeHtml {
  const { viewer, stored, ref, revisions, timeline, timelineTruncated, runbookUrl, notice } = view;
  const a = stored.alert;
  const privileged = a.who.privileged === undefined ? undefined : a.who.privileged ? 'yes' : 'no';
  return layout(
    a.title || a.rule,
    html`<h1>
        <span class="sev sev-${a.severity}">${a.severity}</span> ${a.title || a.rule}
        <span class="status-${a.status}">(${a.status})</span>
      </h1>
      ${notice !== undefined ? html`<p class="notice" role="status">${notice}</p>` : ''}
      <p>${a.summary}</p>
      ${a.description !== undefined ? html`<p class="muted">${a.description}</p>` : ''}
      <dl class="facts">
        ${fact('Rule', a.rule)} ${fact('Cluster', a.cluster)} ${fact('Database', a.database)}
        ${fact('Session', a.sessionId)} ${fact('First seen', formatTime(a.firstSeen))}
        ${fact('Last seen', formatTime(a.lastSeen))} ${fact('Alert id', a.id)}
        ${runbookUrl !== undefined ? fact('Runbook', html`<a href="${runbookUrl}" rel="noreferrer">how to handle ${a.rule}</a>`) : ''}
      </dl>

      <h2>Who</h2>
      <dl class="facts who">
        ${fact('Login', a.who.login)} ${fact('Effective role', a.who.effectiveRole ?? a.who.login)}
        ${fact('Privileged', privileged)} ${fact('Person behind the role', a.who.operator)}
      </dl>

      <h2>Where</h2>
      <dl class="facts where">
        ${fact('Client address', a.where.clientAddr)} ${fact('Client class', a.where.clientClass)}
        ${fact('Application', a.where.applicationName)}
      </dl>

      <h2>What</h2>
      <dl class="facts what">
        ${fact(
          'Tables',
          a.what.tables.length > 0
            ? html`<ul class="tables">
                ${a.what.tables.map((t) => html`<li><code>${t}</code></li>`)}
              </ul>`
            : undefined,
        )}
        ${a.what.objects !== undefined && a.what.objects.length > 0 ? fact('Other objects', a.what.objects.join(', ')) : ''}
        ${fact('Rows', formatCount(a.what.rows))} ${fact('Bytes sent', formatBytes(a.what.bytes))}
        ${fact('Statements', formatCount(a.what.statements))}
      </dl>
      <h3>Statements, in order (literals redacted)</h3>
      ${
        a.evidence.statements.length > 0
          ? html`<ol class="statements">
              ${a.evidence.statements.map((s) => html`<li><pre>${s}</pre></li>`)}
            </ol>`
          : html`<p class="muted">No statement recorded with this alert.</p>`
      }

      <h2>Session timeline</h2>
      ${
        timeline.length > 0
          ? html`<table class="timeline">
                <thead>
                  <tr>
                    <th>Time</th>
                    <th>Event</th>
                    <th>Detail</th>
                  </tr>
                </thead>
                <tbody>
                  ${timeline.map(
                    (e) =>
                      html`<tr>
                        <td class="time">${formatTime(e.ts)}</td>
                        <td>${e.kind}</td>
                        <td>${timelineDetail(e)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
              ${timelineTruncated ? html`<p class="muted">Only the first ${timeline.length} events are shown.</p>` : ''}`
          : html`<p class="muted">
              ${a.sessionId === undefined ? 'This alert is not about one session.' : 'No timeline event stored for this session (kept for store.timelineRetentionDays).'}
            </p>`
      }

      <h2>Active response</h2>
      ${
        a.response !== undefined && a.response.length > 0
          ? html`<table class="responses">
              <thead>
                <tr>
                  <th>Time</th>
                  <th>Action</th>
                  <th>Role</th>
                  <th>Asked by</th>
                  <th>Result</th>
                  <th>Detail</th>
                </tr>
              </thead>
              <tbody>
                ${a.response.map(
                  (r) =>
                    html`<tr>
                      <td class="time">${formatTime(r.at)}</td>
                      <td>${r.action}</td>
                      <td><code>${r.role}</code></td>
                      <td>${r.by} (${r.mode})</td>
                      <td>${r.result}</td>
                      <td>${r.detail}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
          : html`<p class="muted">No session terminated, no login locked (<code>vigie respond</code>).</p>`
      }

      <h2>Revisions</h2>
      ${
        revisions.length > 0
          ? html`<table class="revisions">
              <thead>
                <tr>
                  <th>#</th>
                  <th>Severity</th>
                  <th>Status</th>
                  <th>Last seen</th>
                  <th>Summary</th>
                </tr>
              </thead>
              <tbody>
                ${revisions.map(
                  (r) =>
                    html`<tr>
                      <td>${r.revision}</td>
                      <td class="sev sev-${r.severity}">${r.severity}</td>
                      <td>${r.status}</td>
                      <td class="time">${formatTime(r.lastSeen)}</td>
                      <td>${r.summary}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
          : html`<p class="muted">Revision ${a.revision} (history kept from this version of Vigie on).</p>`
      }

      <h2>Acknowledgement</h2>
      ${
        stored.ack
          ? html`<p class="ack">
              Acknowledged by <strong>${stored.ack.by}</strong> at
              ${formatTime(stored.ack.at)}${
                stored.ack.comment !== undefined && stored.ack.comment !== ''
                  ? html`: <q>${stored.ack.comment}</q>`
                  : ''
              }
            </p>`
          : html`<p class="muted">Not acknowledged yet.</p>`
      }
      <form class="stack" method="post" action="/alerts/${ref}/ack">
        <input type="hidden" name="csrf" value="${viewer.csrf}" />
        <label
          >Comment (what you did, who you called)<textarea name="comment" rows="3" maxlength="2000"></textarea>
        </label>
        <button type="submit">${stored.ack ? 'Acknowledge again' : 'Acknowledge'} as ${viewer.user}</button>
      </form>`,
    viewer,
  );
}

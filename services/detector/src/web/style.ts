/** The evidence pages' only stylesheet, served by Vigie at {@link STYLESHEET_PATH} (the CSP allows no other). */
export const STYLESHEET_PATH = '/assets/evidence.css';

/** The pages' icon (so browsers do not ask for /favicon.ico, a protected path), served at this path. */
export const ICON_PATH = '/assets/icon.svg';

/** A magnifying glass over a cylinder, in one colour. */
export const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><ellipse cx="6" cy="3" rx="5" ry="2" fill="#0969da"/><path d="M1 3v8c0 1.1 2.2 2 5 2V3" fill="#0969da"/><circle cx="11" cy="10" r="3" fill="none" stroke="#1b1f24" stroke-width="1.5"/><path d="M13 12l2.5 2.5" stroke="#1b1f24" stroke-width="1.5"/></svg>`;

/** Plain, readable at 3 a.m. on a phone: system fonts, high contrast, tables that scroll sideways. */
export const STYLESHEET = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #ffffff; --muted: #57606a; --line: #d0d7de;
  --crit: #b42318; --warn: #9a6700; --info: #0969da; --ok: #1a7f37; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #8b949e; --line: #30363d; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
  background: var(--bg); }
header.top { display: flex; gap: 1rem; align-items: center; padding: .6rem 1rem; border-bottom: 1px solid var(--line); }
header.top .brand { font-weight: 700; }
header.top .user { margin-left: auto; color: var(--muted); }
header.top form { display: inline; }
main { padding: 1rem; max-width: 75rem; }
h1 { font-size: 1.35rem; margin: .2rem 0 .6rem; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 .4rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
table { border-collapse: collapse; width: 100%; display: block; overflow-x: auto; }
th, td { text-align: left; vertical-align: top; padding: .3rem .5rem; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; white-space: nowrap; }
td.time { white-space: nowrap; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
pre, code { font: 13px/1.4 ui-monospace, "SFMono-Regular", Menlo, monospace; white-space: pre-wrap;
  word-break: break-word; margin: 0; }
.sev { font-weight: 700; text-transform: uppercase; }
.sev-critical { color: var(--crit); } .sev-warning { color: var(--warn); } .sev-info { color: var(--info); }
.status-resolved { color: var(--ok); }
.muted { color: var(--muted); }
.notice { padding: .6rem .8rem; border: 1px solid var(--line); border-left: 4px solid var(--info); margin: .8rem 0; }
.error { border-left-color: var(--crit); }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; margin-bottom: 1rem; }
form.filters label, form.stack label { display: flex; flex-direction: column; font-size: .9rem; color: var(--muted); }
form.stack { display: flex; flex-direction: column; gap: .6rem; max-width: 28rem; }
input, select, textarea, button { font: inherit; padding: .3rem .4rem; }
button { cursor: pointer; }
`;

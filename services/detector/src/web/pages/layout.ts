import type { ErrorCode } from '@vigie/errors';
import { html, type SafeHtml } from '../html.js';
import { ICON_PATH, STYLESHEET_PATH } from '../style.js';

/** Who is looking at a page, and the token their forms carry. */
export interface Viewer {
  user: string;
  csrf: string;
}

/** The frame of every evidence page: title, stylesheet, and for a signed-in viewer the nav and sign-out form. */
export function layout(title: string, body: SafeHtml, viewer?: Viewer): SafeHtml {
  return html`<html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="referrer" content="no-referrer" />
      <title>${title} · Vigie</title>
      <link rel="stylesheet" href="${STYLESHEET_PATH}" />
      <link rel="icon" href="${ICON_PATH}" type="image/svg+xml" />
    </head>
    <body>
      <header class="top">
        <span class="brand">Vigie</span>
        ${
          viewer
            ? html`<a href="/alerts">Alerts</a>
                <span class="user">signed in as ${viewer.user}</span>
                <form method="post" action="/signout">
                  <input type="hidden" name="csrf" value="${viewer.csrf}" /><button type="submit">Sign out</button>
                </form>`
            : html`<span class="user">evidence pages</span>`
        }
      </header>
      <main>${body}</main>
    </body>
  </html>`;
}

/** A page that says what went wrong, with its VIGIE_WEB_* code. */
export function errorPage(title: string, code: ErrorCode, message: string, viewer?: Viewer): SafeHtml {
  return layout(
    title,
    html`<h1>${title}</h1>
      <p class="notice error">${message} <span class="muted">(${code})</span></p>
      <p><a href="/alerts">Back to the alerts</a></p>`,
    viewer,
  );
}

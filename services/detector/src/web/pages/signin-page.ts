import { html, type SafeHtml } from '../html.js';
import { layout } from './layout.js';

/** What the sign-in page shows. */
export interface SignInView {
  csrf: string;
  /** Where to go after signing in (a local evidence path, already checked). */
  next: string;
  /** Why the last attempt failed, if it did. */
  error?: string;
  /** No token configured (api.allowAnonymous on a laptop): a name is enough. */
  anonymous: boolean;
}

/** The sign-in form: a token (the API token or the person's own) and, for the shared token, a name for acks. */
export function signInPage({ csrf, next, error, anonymous }: SignInView): SafeHtml {
  return layout(
    'Sign in',
    html`<h1>Sign in to the evidence pages</h1>
      ${error !== undefined ? html`<p class="notice error" role="alert">${error}</p>` : ''}
      <form class="stack" method="post" action="/signin">
        <input type="hidden" name="csrf" value="${csrf}" />
        <input type="hidden" name="next" value="${next}" />
        ${
          anonymous
            ? html`<p class="notice">This detector runs without a token (api.allowAnonymous): enter a name.</p>`
            : html`<label>Token <input type="password" name="token" autocomplete="current-password" required /></label>`
        }
        <label
          >Your name (recorded with acknowledgements when you sign in with the shared API token)
          <input type="text" name="name" maxlength="100" autocomplete="username"
        /></label>
        <button type="submit">Sign in</button>
      </form>
      <p class="muted">
        The token is the detector's <code>api.token</code> (with <code>npm start</code>: the file
        <code>.stack/vigie/api-token</code>), or your own from <code>api.users</code>. Signing in sets a session cookie;
        the token itself is not kept by the browser.
      </p>`,
  );
}

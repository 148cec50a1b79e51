/**
 * HTML built from templates whose every interpolated value is escaped, unless it is already {@link SafeHtml}
 * (the output of another template). Alert fields are attacker-controlled (`application_name`, SQL text, role names),
 * so no page concatenates strings: it goes through {@link html}.
 */

const SAFE = Symbol('vigie.safeHtml');

/** Markup that is safe to insert as is: only {@link html} makes it. */
export interface SafeHtml {
  readonly [SAFE]: true;
  readonly text: string;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
  '=': '&#61;',
};

/**
 * A value as text for an HTML element body or a double-quoted attribute. Control characters other than tab and
 * newline become U+FFFD: a NUL or an escape sequence in an application name must not reach the browser as is.
 */
export function escapeHtml(value: unknown): string {
  return (
    String(value)
      .replace(/[&<>"'`=]/g, (c) => ESCAPES[c] ?? c)
      // eslint-disable-next-line no-control-regex -- finding control characters is the point
      .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, '\ufffd')
  );
}

function isSafe(value: unknown): value is SafeHtml {
  return typeof value === 'object' && value !== null && SAFE in value;
}

function render(value: unknown): string {
  if (value === undefined || value === null || value === false) return '';
  if (isSafe(value)) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(value);
}

/** Tagged template: `html\`<td>${alert.where.applicationName}</td>\`` escapes the value; nested templates pass. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let text = strings[0] ?? '';
  values.forEach((value, i) => {
    text += render(value) + (strings[i + 1] ?? '');
  });
  return { [SAFE]: true, text };
}

/** The document text of a page. */
export function toDocument(page: SafeHtml): string {
  return `<!doctype html>\n${page.text}`;
}

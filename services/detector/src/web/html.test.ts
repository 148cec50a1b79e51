import { describe, expect, it } from 'vitest';
import { escapeHtml, html, toDocument } from './html.js';

describe('escapeHtml', () => {
  it('escapes every character that can open markup or leave an attribute', () => {
    expect(escapeHtml(`<script>alert("x")</script> & 'y' \`z\` a=b`)).toBe(
      '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39; &#96;z&#96; a&#61;b',
    );
  });

  it('replaces control characters (a NUL or an escape sequence in application_name) but keeps tabs and newlines', () => {
    expect(escapeHtml('a\u0000b\u001b[31mc\u2028d\te\nf')).toBe('a\ufffdb\ufffd[31mc\ufffdd\te\nf');
  });
});

describe('html templates', () => {
  it('escape interpolated values, arrays included, and pass nested templates as is', () => {
    const app = '"><img src=x onerror=alert(1)>';
    // prettier-ignore
    const page = html`<td title="${app}">${app}</td><ul>${['<b>', 'ok'].map((t) => html`<li>${t}</li>`)}</ul>`;
    expect(page.text).toBe(
      '<td title="&quot;&gt;&lt;img src&#61;x onerror&#61;alert(1)&gt;">&quot;&gt;&lt;img src&#61;x onerror&#61;alert(1)&gt;</td><ul><li>&lt;b&gt;</li><li>ok</li></ul>',
    );
  });

  it('render nothing for undefined, null and false, and a number as text', () => {
    expect(html`[${undefined}${null}${false}${0}${12.5}]`.text).toBe('[012.5]');
  });

  it('do not take an object that merely looks like a template result for safe markup', () => {
    const forged = { text: '<script>1</script>' };
    expect(html`${forged}`.text).toBe('[object Object]');
    expect(toDocument(html`<p>${'<x>'}</p>`)).toBe('<!doctype html>\n<p>&lt;x&gt;</p>');
  });
});

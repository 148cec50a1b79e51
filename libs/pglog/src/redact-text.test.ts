import { describe, expect, it } from 'vitest';
import { messageTemplate } from './parse-error-message.js';
import { cleanApplicationName, redactFreeText } from './redact-text.js';

describe('cleanApplicationName', () => {
  it('keeps ordinary names as they are', () => {
    for (const name of ['psql', 'pg_dump', 'PostgreSQL JDBC Driver', 'app-backend 2.1', 'vigie_fx_quoting'])
      expect(cleanApplicationName(name)).toBe(name);
  });

  it('bounds length and character set, and hides e-mails and long numbers', () => {
    expect(cleanApplicationName('x'.repeat(300))).toBe('x'.repeat(64));
    expect(cleanApplicationName('line\nbreak\u0007é')).toBe('line?break??');
    expect(cleanApplicationName('report for zoe.vigie@exemple.fr')).toBe('report for $1');
    expect(cleanApplicationName('nir 2 85 03 75 123 456 78 / 0612345678')).toBe('nir $1 / $2');
    expect(cleanApplicationName('FR7630006000011234567890189')).toBe('$1');
  });
});

describe('redactFreeText', () => {
  it('hides IBAN-like runs of letters and digits', () => {
    expect(redactFreeText('iban FR7630006000011234567890189 ok')).toBe('iban $1 ok');
    expect(redactFreeText('table t2024 and x1')).toBe('table t2024 and x1');
  });
});

describe('messageTemplate', () => {
  it.each([
    ['invalid input syntax for type integer: "{"email": "a@b.fr"}"', 'invalid input syntax for type integer: $1'],
    ['relation "public.nosuch" does not exist', 'relation $1 does not exist'],
    ['permission denied for table citizens', 'permission denied for table citizens'],
    ['permission denied for table zoe_285037512345678', 'permission denied for $1'],
    [
      'duplicate key value violates unique constraint "citizens_pkey"',
      'duplicate key value violates unique constraint $1',
    ],
    ['value too long for type character varying(10)', 'value too long for type character varying(10)'],
  ])('%s', (message, template) => {
    expect(messageTemplate(message)).toBe(template);
  });

  it('knows nothing it was not told: free text and very long messages are not templates', () => {
    expect(messageTemplate('Marguerite Vigietest owes 1200 EUR')).toBeUndefined();
    expect(messageTemplate(`malformed array literal: "${'x'.repeat(10_000)}"`)).toBeUndefined();
  });
});

describe('cleanApplicationName keeps versions, dates and identifiers with digits', () => {
  it.each(['pglog_crash_3a4b5c6d7e8f', 'pglog_it_839201847abc', 'app-v1.2.3', 'etl 20240105'])('%s', (name) => {
    expect(cleanApplicationName(name)).toBe(name);
  });
});

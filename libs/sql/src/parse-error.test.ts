import { describe, expect, it } from 'vitest';
import { isDangerousFunction } from './dangerous-functions.js';
import { sanitizeParseError } from './parse-error.js';

/** A libpg-query SqlError as the parser throws it. */
function sqlError(message: string, cursorPosition?: number): Error {
  return Object.assign(new Error(message), { sqlDetails: { message, cursorPosition } });
}

describe('sanitizeParseError', () => {
  it.each([
    ['syntax error at or near "185057512345678"', 12, 'syntax error (position 12)'],
    [`unterminated quoted string at or near "'jean.dupont@exemple.fr"`, 7, 'unterminated quoted string (position 7)'],
    ['syntax error at end of input', 40, 'syntax error at end of input (position 40)'],
    [
      'improper qualified name (too many dotted names): a.b.c.d',
      14,
      'improper qualified name (too many dotted names) (position 14)',
    ],
    ['unrecognized role option "Jean Dupont"', 19, 'unrecognized role option (position 19)'],
    ["value 'FR7612345678901234567890123' is 27 characters long", 3, 'value is characters long (position 3)'],
    ['"185057512345678"', undefined, 'parse error'],
  ])('%s', (message, position, expected) => {
    expect(sanitizeParseError(sqlError(message, position))).toBe(expected);
  });

  it('copes with things that are not errors', () => {
    expect(sanitizeParseError('185057512345678')).toBe('parse error');
    expect(sanitizeParseError(undefined)).toBe('parse error');
  });
});

describe('isDangerousFunction', () => {
  it.each([
    ['pg_read_file', true],
    ['pg_catalog.pg_read_binary_file', true],
    ['lo_export', true],
    ['dblink_connect_u', true],
    ['ext.dblink', true],
    ['pg_file_write', true],
    ['pg_export_snapshot', false],
    ['upper', false],
    ['my_dblink_wrapper', false],
  ])('%s → %s', (name, dangerous) => {
    expect(isDangerousFunction(name)).toBe(dangerous);
  });
});

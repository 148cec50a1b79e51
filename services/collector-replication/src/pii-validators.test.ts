import { describe, expect, it } from 'vitest';
import { ibanCheckDigits, isValidIban, isValidNir, nirKey } from './pii-validators.js';
import { PersonalDataTally, scanValue } from './analyze-personal-data.js';

describe('isValidNir', () => {
  it('accepts published examples with their key, spaced or not', () => {
    expect(isValidNir('269054958815780')).toBe(true);
    expect(isValidNir('2 69 05 49 588 157 80')).toBe(true);
    expect(isValidNir('185057800608491')).toBe(true);
  });

  it('refuses a wrong key, a wrong length, an impossible month or sex digit', () => {
    expect(isValidNir('269054958815781')).toBe(false);
    expect(isValidNir('26905495881578')).toBe(false);
    expect(isValidNir('269154958815780')).toBe(false); // month 15
    expect(isValidNir('569054958815780')).toBe(false); // sex 5
  });

  it('handles Corsica: 2A counts as 19, 2B as 18', () => {
    // 1 55 05 2A 001 001: 1550519001001 mod 97 → key 89; 2B: 1550518001001 → key 19.
    expect(isValidNir('155052A00100189')).toBe(true);
    expect(isValidNir('155052b00100119')).toBe(true);
    expect(isValidNir('155052A00100119')).toBe(false);
    expect(nirKey('155052A001001')).toBe('89');
  });
});

describe('isValidIban', () => {
  it('accepts well-known valid IBANs', () => {
    expect(isValidIban('FR14 2004 1010 0505 0001 3M02 606')).toBe(true);
    expect(isValidIban('GB82WEST12345698765432')).toBe(true);
    expect(isValidIban('DE89 3704 0044 0532 0130 00')).toBe(true);
  });

  it('refuses a changed digit, swapped digits and a French IBAN of the wrong length', () => {
    expect(isValidIban('FR14 2004 1010 0505 0001 3M02 607')).toBe(false);
    expect(isValidIban('GB82WEST12345698765423')).toBe(false);
    expect(isValidIban('FR142004101005050001')).toBe(false);
  });

  it('computes check digits that validate', () => {
    const bban = '30006000011234567890189';
    expect(isValidIban(`FR${ibanCheckDigits('FR', bban)}${bban}`)).toBe(true);
  });
});

function scan(value: string): Record<string, number> {
  const out: Record<string, number> = {};
  scanValue(value, (type, count) => (out[type] = (out[type] ?? 0) + count));
  return out;
}

describe('scanValue', () => {
  it('finds valid identifiers, e-mails and French phones, and counts them', () => {
    expect(scan('nir 269054958815780 et 185057800608491')).toEqual({ nir: 2 });
    expect(scan('IBAN FR14 2004 1010 0505 0001 3M02 606')).toEqual({ iban: 1 });
    expect(scan('jean.dupont@example.fr, a@b.io')).toEqual({ email: 2 });
    expect(scan('tel 06 12 34 56 78 / +33 1 23 45 67 89 / 01.23.45.67.89')).toEqual({ phone_fr: 3 });
  });

  it('ignores look-alikes with a bad key and digit runs that are not identifiers', () => {
    expect(scan('269054958815781')).toEqual({});
    expect(scan('order 12345678901234567890')).toEqual({});
    expect(scan('FR14 2004 1010 0505 0001 3M02 607')).toEqual({});
    expect(scan('short')).toEqual({});
    expect(scan('no at sign here, 12345')).toEqual({});
  });
});

describe('PersonalDataTally', () => {
  it('keeps counts per table, column and type, never values', () => {
    const t = new PersonalDataTally();
    t.scanRow('public.citizens', { id: 1, nir: '269054958815780', email: 'x@y.fr', note: null });
    t.scanRow('public.citizens', { id: 2, nir: '185057800608491', email: 'nobody' });
    const findings = t.findings();
    expect(findings).toEqual([
      { table: 'public.citizens', column: 'email', type: 'email', count: 1 },
      { table: 'public.citizens', column: 'nir', type: 'nir', count: 2 },
    ]);
    expect(JSON.stringify(findings)).not.toContain('2690549');
  });

  it('looks inside json documents and arrays, not inside binary values', () => {
    const t = new PersonalDataTally();
    t.scanRow('public.docs', {
      doc: { holder: { nir: '269054958815780', contacts: ['a@b.fr', 'c@d.fr'] }, n: 3 },
      tags: ['FR14 2004 1010 0505 0001 3M02 606'],
      raw: Buffer.from('269054958815780'),
    });
    expect(t.findings()).toEqual([
      { table: 'public.docs', column: 'doc', type: 'email', count: 2 },
      { table: 'public.docs', column: 'doc', type: 'nir', count: 1 },
      { table: 'public.docs', column: 'tags', type: 'iban', count: 1 },
    ]);
  });
});

/**
 * Validators for the personal identifiers that must never appear in a pre-production database: the French social
 * security number (NIR) with its control key, the IBAN with its ISO 7064 checksum, e-mail addresses and French
 * phone numbers. A checksum turns "looks like a number" into "is very probably a real identifier": synthetic test
 * data rarely carries valid keys, real extracts always do.
 */

/**
 * True when `nir` (15 characters, spaces allowed) has a valid key: `97 − (n mod 97)` where `n` is the first 13
 * characters as a number. Corsica's departments 2A and 2B are counted as 19 and 18 in place of the two characters,
 * as INSEE specifies.
 */
export function isValidNir(nir: string): boolean {
  const s = nir.replace(/\s+/g, '').toUpperCase();
  if (s.length !== 15) return false;
  if (!/^[1-478]\d{4}(?:\d{2}|2A|2B)\d{8}$/.test(s)) return false;
  const month = Number(s.slice(3, 5));
  // 01-12, 20 (unknown), 30-42 and 50-99 (provisional numbers) are issued; 00 and 13-19 never are.
  if (month === 0 || (month >= 13 && month <= 19)) return false;
  const dept = s.slice(5, 7);
  let body = s.slice(0, 13);
  if (dept === '2A') body = `${s.slice(0, 5)}19${s.slice(7, 13)}`;
  else if (dept === '2B') body = `${s.slice(0, 5)}18${s.slice(7, 13)}`;
  // 13 digits < 2^53: a plain number is exact.
  const key = 97 - (Number(body) % 97);
  return key === Number(s.slice(13, 15));
}

/** The control key a NIR body (13 characters, 2A/2B allowed) must carry; for building test data. */
export function nirKey(body13: string): string {
  const s = body13.toUpperCase();
  const numeric =
    s.slice(5, 7) === '2A'
      ? `${s.slice(0, 5)}19${s.slice(7)}`
      : s.slice(5, 7) === '2B'
        ? `${s.slice(0, 5)}18${s.slice(7)}`
        : s;
  return String(97 - (Number(numeric) % 97)).padStart(2, '0');
}

/** True when `iban` (spaces allowed) has a valid ISO 13616 checksum (mod 97 = 1) and a plausible length. */
export function isValidIban(iban: string): boolean {
  const s = iban.replace(/\s+/g, '').toUpperCase();
  if (s.length < 15 || s.length > 34 || !/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(s)) return false;
  if (s.startsWith('FR') && s.length !== 27) return false;
  const rearranged = s.slice(4) + s.slice(0, 4);
  // Digit by digit so the running value never leaves the safe integer range.
  let rem = 0;
  for (let i = 0; i < rearranged.length; i += 1) {
    const c = rearranged.charCodeAt(i);
    if (c >= 48 && c <= 57) rem = (rem * 10 + (c - 48)) % 97;
    else rem = (rem * 100 + (c - 55)) % 97;
  }
  return rem === 1;
}

/** Computes the two check digits of an IBAN from its country and BBAN; for building test data. */
export function ibanCheckDigits(country: string, bban: string): string {
  const rearranged = `${bban}${country}00`.toUpperCase();
  let rem = 0;
  for (let i = 0; i < rearranged.length; i += 1) {
    const c = rearranged.charCodeAt(i);
    rem = c >= 48 && c <= 57 ? (rem * 10 + (c - 48)) % 97 : (rem * 100 + (c - 55)) % 97;
  }
  return String(98 - rem).padStart(2, '0');
}

import { beforeAll, describe, expect, it } from 'vitest';
import { createSqlAnalyzer, type SqlAnalyzer } from './analyzer.js';
import { redactByPattern } from './redact.js';

/** Deterministic pseudo-random numbers (mulberry32), so a failure names the same statement every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const next = random(20240917);
const digits = (n: number): string => Array.from({ length: n }, () => Math.floor(next() * 10)).join('');
const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;

const FIRST = ['Éloïse', 'Jean', 'Aïcha', 'Bérénice', 'Noël', 'Zoë', 'Kévin', 'Søren'];
const LAST = ['Dupont', 'Ünal', 'N’Diaye', 'Le Gall', 'Öztürk', 'Martin-Lefèvre', 'Nguyễn', 'Saint-Éxupery'];

interface Person {
  nir: string;
  email: string;
  name: string;
  iban: string;
  phone: string;
}

function person(): Person {
  const first = pick(FIRST);
  const last = pick(LAST);
  const tag = digits(4);
  return {
    nir: `${pick(['1', '2'])}${digits(14)}`,
    email: `${first.toLowerCase()}.${tag}@exemple.fr`,
    name: `${first} ${last}${tag}`,
    iban: `FR76${digits(23)}`,
    phone: `+336${digits(8)}`,
  };
}

const q = (s: string): string => `'${s.replace(/'/g, "''")}'`;

// Every place a literal can sit, valid and broken. Each template takes one synthetic person.
const TEMPLATES: ((p: Person) => string)[] = [
  (p) => `SELECT * FROM citizens WHERE nir = ${q(p.nir)} AND email = ${q(p.email)}`,
  (p) => `SELECT * FROM citizens WHERE nir = ${p.nir}`,
  (p) => `SELECT * FROM citizens WHERE nir IN (${q(p.nir)}, ${p.nir}) OR phone = ${q(p.phone)}`,
  (p) => `SELECT * FROM citizens WHERE last_name LIKE ${q(`%${p.name}%`)} LIMIT ${p.nir}`,
  (p) =>
    `INSERT INTO citizens (nir, email, name, iban, phone) VALUES (${q(p.nir)}, ${q(p.email)}, ${q(p.name)}, ${q(p.iban)}, ${q(p.phone)})`,
  (p) => `UPDATE citizens SET email = ${q(p.email)}, iban = ${q(p.iban)} WHERE nir = ${q(p.nir)}`,
  (p) => `DELETE FROM citizens WHERE email = E'${p.email}\\n' OR name = U&'${p.name}'`,
  (p) => `SELECT $$${p.name} ${p.nir}$$, $x$${p.email}$x$`,
  (p) => `SELECT ${q(p.nir)}::bigint, CAST(${q(p.iban)} AS text), text ${q(p.email)}`,
  (p) => `SELECT '{"email": "${p.email}", "nir": ${p.nir}}'::jsonb -> 'email'`,
  (p) => `SELECT upper(${q(p.name)}), md5(${q(p.nir)}), coalesce(NULL, ${q(p.phone)})`,
  (p) => `SELECT * FROM citizens WHERE nir = '${p.nir.slice(0, 7)}'\n  '${p.nir.slice(7)}'`,
  (p) => `EXECUTE find_citizen(${q(p.nir)}, ${p.phone.slice(1)})`,
  (p) => `PREPARE f AS SELECT * FROM citizens WHERE iban = ${q(p.iban)}`,
  (p) => `COPY (SELECT * FROM citizens WHERE email = ${q(p.email)}) TO ${q(`/tmp/${p.name}.csv`)}`,
  (p) => `COPY citizens TO PROGRAM ${q(`mail ${p.email}`)}`,
  (p) => `DO $$ BEGIN UPDATE citizens SET phone = '${p.phone}' WHERE nir = '${p.nir}'; END $$`,
  (p) => `CREATE ROLE ${p.name.split(' ')[0]?.toLowerCase() ?? 'x'}_ro PASSWORD ${q(p.iban)}`,
  (p) => `ALTER ROLE bob PASSWORD ${q(p.nir)} VALID UNTIL ${q(p.phone)}`,
  (p) => `SET application_name = ${q(p.name)}`,
  (p) => `NOTIFY citizens_changed, ${q(p.email)}`,
  (p) => `COMMENT ON TABLE citizens IS ${q(`owner ${p.name}`)}`,
  (p) => `SELECT 1 -- looking up ${p.name} ${p.nir}\n`,
  (p) => `SELECT /* ticket for ${p.email} */ * FROM citizens`,
  (p) =>
    `SELECT * FROM dblink(${q(`host=db password=${p.iban}`)}, ${q(`select * from citizens where nir = '${p.nir}'`)}) AS t(a text)`,
  (p) => `SELECT lo_export(${p.nir.slice(0, 6)}, ${q(`/tmp/${p.email}`)})`,
  (p) =>
    `SELECT * FROM payments WHERE amount > ${p.nir.slice(0, 6)}.${p.nir.slice(6, 8)} AND ref = B'1011' AND h = X'${p.nir.slice(0, 8)}'`,
  (p) => `WITH c AS (SELECT * FROM citizens WHERE phone = ${q(p.phone)}) SELECT * FROM c WHERE email <> ${q(p.email)}`,
  (p) => `SELECT * FROM citizens WHERE nir = ${q(p.nir)}; SELECT * FROM payments WHERE iban = ${q(p.iban)}`,
  (p) => `INSERT INTO notes VALUES (${q(`it's ${p.name}'s file\nline two ${p.phone}`)})`,
  // Broken: truncated, unterminated, syntax errors, garbage around the literals.
  (p) => `SELECT * FROM citizens WHERE nir = ${q(p.nir)} AND email = ${q(p.email)} AND`,
  (p) => `SELECT * FROM citizens WHERE nir = '${p.nir}`,
  (p) => `SELECT * FROM citizens WHERE email = '${p.email}' AND name = '${p.name}`,
  (p) => `SELECT * FORM citizens WHERE nir = ${q(p.nir)}`,
  (p) => `UPDATE citizens SET iban = ${q(p.iban)} WHRE nir = ${p.nir}`,
  (p) => `INSERT INTO citizens VALUES (${q(p.nir)}, ${q(p.email)}`,
  (p) => `SELECT $$${p.name} ${p.nir}`,
  (p) => `SELECT $body$${p.email} $other$ ${p.iban}`,
  (p) => `SELECT E'${p.name}\\' AND nir = ${p.nir}`,
  (p) => `SELECT "${p.name} FROM citizens WHERE nir = '${p.nir}'`,
  (p) => `SELECT ${p.nir}abc, ${q(p.email)}`,
  (p) => `SELECT 1 /* ${p.name} ${p.nir} unterminated`,
  (p) => `\\copy (SELECT * FROM citizens WHERE nir = ${q(p.nir)}) to '/tmp/${p.name}.csv'`,
  (p) => `<not logged> ${q(p.nir)}`,
  (p) => `SELECT * FROM citizens WHERE email = "${p.email}" OR nir = "${p.nir}"`,
  (p) => `EXECUTE find_citizen(${q(p.nir)}`,
  (p) => `SELECT U&'${p.name}\\zzzz', ${q(p.email)}`,
  (p) => `SELECT ${q(p.phone)}::text ${q(p.iban)} ${q(p.email)}`,
  (p) => `COPY citizens FROM PROGRAM 'curl ${p.email}`,
  (p) => `ALTER ROLE bob PASSWORD ${q(p.nir)} garbage ${q(p.iban)}`,
  (p) =>
    `DELETE FROM citizens WHERE nir = 0x${p.nir.slice(0, 10)} OR phone = ${p.phone.slice(1)} OR x = 1e${p.nir.slice(0, 2)}`,
  // Values typed without quotes or in the wrong ones (what a refused statement holds), and backslash escapes under
  // standard_conforming_strings = off.
  (p) => `SELECT * FROM citizens WHERE name = ${p.name} AND nir = ${p.nir}`,
  (p) => `SELECT * FROM payments WHERE iban = ${p.iban}`,
  (p) => `SELECT * FROM citizens WHERE email = ${p.email}`,
  (p) => `SELECT id FROM citizens WHERE last_name = "${p.name}" OR email = "${p.email}"`,
  (p) => `SELECT count(*) FROM citizens WHERE email = 'it\\'s ${p.email}' OR nir = '${p.nir}' OR n = '${p.name}'`,
  (p) => `UPDATE citizens SET note = 'C:\\' WHERE name = '${p.name}' AND iban = '${p.iban}'`,
];

/** The pieces of personal data that must not survive: whole values, and every 6-digit run of the numbers. */
function secrets(p: Person): string[] {
  const runs = (s: string): string[] => {
    const only = s.replace(/\D/g, '');
    return Array.from({ length: Math.max(0, only.length - 5) }, (_, i) => only.slice(i, i + 6));
  };
  const [first, last] = p.name.split(' ') as [string, string];
  return [
    p.nir,
    p.email,
    p.email.split('@')[0] ?? '',
    p.name,
    first,
    last,
    p.iban,
    p.phone,
    ...runs(p.nir),
    ...runs(p.iban),
    ...runs(p.phone),
  ];
}

/** Every string anywhere in a JSON value. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (typeof value === 'object' && value !== null)
    return [...Object.keys(value), ...Object.values(value).flatMap(strings)];
  return [];
}

const CORPUS = TEMPLATES.map((template) => {
  const p = person();
  return { sql: template(p), secrets: secrets(p) };
});

describe('privacy', () => {
  let analyzer: SqlAnalyzer;
  beforeAll(async () => {
    analyzer = await createSqlAnalyzer();
  });

  it('has a corpus of about fifty statements, broken ones included', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(50);
    const broken = CORPUS.filter(({ sql }) => analyzer.analyze(sql).parseError !== undefined);
    expect(broken.length).toBeGreaterThanOrEqual(15);
  });

  it.each(CORPUS)('leaks no personal data: $sql', ({ sql, secrets: hidden }) => {
    // Twice: the second answer comes from the cache.
    for (const analysis of [analyzer.analyze(sql), analyzer.analyze(sql)]) {
      const found = strings(JSON.parse(JSON.stringify(analysis)));
      for (const secret of hidden) {
        for (const text of found) expect(text, `${secret} in ${JSON.stringify(analysis)}`).not.toContain(secret);
      }
    }
  });

  it.each(CORPUS)('the last-resort pattern redactor leaks nothing either: $sql', ({ sql, secrets: hidden }) => {
    const redacted = redactByPattern(sql);
    for (const secret of hidden) expect(redacted).not.toContain(secret);
  });
});

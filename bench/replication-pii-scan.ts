// Cost of the pre-production personal-data scan per row image, against a bare loop that only visits the same string
// columns (the floor any scanner pays). Rows look like the demo `public.citizens` (NIR, e-mail, phone, address) and
// like typical application rows (codes, names, amounts as text) where the pre-filter should skip the regexes.
// Run: npm run bench -- replication-pii-scan
import { PersonalDataTally, nirKey } from '@vigie/collector-replication';

let seed = 7;
const rand = (n: number): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
};
const pad = (n: number, w: number): string => String(n).padStart(w, '0');
const nir = (): string => {
  const body = `${1 + rand(2)}${pad(rand(100), 2)}${pad(1 + rand(12), 2)}${pad(1 + rand(95), 2)}${pad(rand(1000), 3)}${pad(rand(1000), 3)}`;
  return body + nirKey(body);
};

const N = 100_000;
const citizens = Array.from({ length: N }, (_, i) => ({
  id: i,
  nir: nir(),
  name: `Nom${i} Prénom${rand(1000)}`,
  email: `user${i}@exemple.fr`,
  phone: `06 ${pad(rand(100), 2)} ${pad(rand(100), 2)} ${pad(rand(100), 2)} ${pad(rand(100), 2)}`,
  address: `${rand(200)} rue de la République, ${pad(rand(99999), 5)} Ville`,
}));
const appRows = Array.from({ length: N }, (_, i) => ({
  id: i,
  code: `ORD-${pad(rand(1e6), 6)}`,
  status: ['new', 'paid', 'shipped'][rand(3)],
  label: `article ${rand(5000)}`,
  amount: `${rand(1000)}.${pad(rand(100), 2)}`,
}));

function measure(name: string, rows: Record<string, unknown>[], fn: (row: Record<string, unknown>) => void): number {
  let best = Infinity;
  for (let round = 0; round < 5; round += 1) {
    const t0 = process.hrtime.bigint();
    for (const row of rows) fn(row);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e3 / rows.length);
  }
  console.log(
    `${name.padEnd(46)} ${best.toFixed(3).padStart(7)} µs/row  ${Math.round(1e6 / best).toLocaleString('en')} rows/s`,
  );
  return best;
}

let sink = 0;
const visit = (row: Record<string, unknown>) => {
  for (const k in row) {
    const v = row[k];
    if (typeof v === 'string') sink += v.length;
  }
};
for (const [label, rows] of [
  ['citizens-like rows (every row holds PII)', citizens],
  ['application rows (no PII)', appRows],
] as const) {
  const floor = measure(`bare visit, ${label}`, rows, visit);
  const tally = new PersonalDataTally();
  const scan = measure(`scan, ${label}`, rows, (row) => tally.scanRow('public.t', row));
  const found = tally
    .findings()
    .map((f) => `${f.type}:${f.count}`)
    .join(' ');
  console.log(`  → ${(scan / floor).toFixed(1)}x the bare visit; found per 5 rounds: ${found || 'nothing'}`);
}
if (sink < 0) console.log(sink);

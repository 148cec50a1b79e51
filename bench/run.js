// `npm run bench -- <name> [args…]`: builds the benchmarks (tsc -b) and runs bench/<name>.ts (compiled into
// dist/bench/) or bench/<name>.sh. Without a name, lists them. Benchmarks print ratios against named peers.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [name, ...args] = process.argv.slice(2);
const entries = readdirSync(join(root, 'bench'))
  .filter((f) => /\.(ts|sh)$/.test(f) && !f.endsWith('.d.ts'))
  .map((f) => f.replace(/\.(ts|sh)$/, ''));

if (!name || !entries.includes(name)) {
  console.log(`usage: npm run bench -- <name> [args…]\nbenchmarks: ${entries.sort().join(', ')}`);
  process.exit(name ? 2 : 0);
}
const sh = join(root, 'bench', `${name}.sh`);
let result;
if (existsSync(sh)) {
  result = spawnSync('bash', [sh, ...args], { stdio: 'inherit' });
} else {
  execFileSync(join(root, 'node_modules/.bin/tsc'), ['-b', join(root, 'bench')], { stdio: 'inherit' });
  result = spawnSync(process.execPath, [join(root, 'dist/bench', `${name}.js`), ...args], { stdio: 'inherit' });
}
process.exit(result.status ?? 1);

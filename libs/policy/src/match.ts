import { BlockList, isIP } from 'node:net';

/** Compiles name patterns (`app_*`, `social.*`) into one case-insensitive predicate, once. */
export function patternMatcher(patterns: readonly string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => false;
  const escaped = patterns.map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*'));
  const re = new RegExp(`^(?:${escaped.join('|')})$`, 'i');
  return (name) => re.test(name);
}

/**
 * Matches relation names against personal-data table patterns. An unqualified name (`citizens`, as a statement
 * may write it) is taken as `public.citizens`, the default search_path.
 */
export function tableMatcher(patterns: readonly string[]): (relation: string) => boolean {
  const qualified = patterns.map((p) => (p.includes('.') ? p : `public.${p}`));
  const match = patternMatcher(qualified);
  return (relation) =>
    match(relation.includes('.') ? relation.replace(/"/g, '') : `public.${relation.replace(/"/g, '')}`);
}

/** Strips an IPv4-mapped IPv6 prefix (`::ffff:127.0.0.2` → `127.0.0.2`), so one CIDR list serves both. */
export function normalizeAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m?.[1] ?? address;
}

/** Compiles CIDRs into a membership test for IPv4 and IPv6 addresses. */
export function networkMatcher(cidrs: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [net, bits] = cidr.split('/') as [string, string];
    list.addSubnet(net, Number(bits), isIP(net) === 6 ? 'ipv6' : 'ipv4');
  }
  return (address) => {
    const a = normalizeAddress(address);
    const family = isIP(a);
    if (family === 0) return false;
    return list.check(a, family === 6 ? 'ipv6' : 'ipv4');
  };
}

/**
 * The services the CLI runs (`vigie run <name>`, `vigie config check`, `vigie start`): a new collector is one line
 * here; the type then asks for its configuration schema in config-check.ts. No import, so `vigie` loads a
 * service's package only when it runs it.
 */
export const SERVICES = ['collector-pglog', 'collector-replication', 'collector-egress', 'detector'] as const;
/** See {@link SERVICES}. */
export type ServiceName = (typeof SERVICES)[number];

export function isService(name: string | undefined): name is ServiceName {
  return (SERVICES as readonly string[]).includes(name ?? '');
}

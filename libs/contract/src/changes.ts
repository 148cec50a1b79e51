import { z } from 'zod';
import { envelope } from './common.js';

/** Per-table row counts inside one transaction (values never leave the collector). */
export const TableChangeCounts = z.object({
  /** Schema-qualified relation (`public.citizens`). */
  table: z.string(),
  insert: z.number().int().nonnegative(),
  update: z.number().int().nonnegative(),
  delete: z.number().int().nonnegative(),
  truncate: z.number().int().nonnegative(),
});

/** Counts of real-looking personal data found in row images written to a non-production cluster. */
export const PersonalDataFinding = z.object({
  table: z.string(),
  column: z.string(),
  type: z.enum(['nir', 'iban', 'email', 'phone_fr']),
  count: z.number().int().positive(),
});

/** A logical message (`pg_logical_emit_message`) seen in the stream, e.g. a bastion's `operator=alice ticket=OPS-123`. */
export const LogicalMessage = z.object({
  prefix: z.string(),
  content: z.string(),
  transactional: z.boolean(),
});

/** One committed transaction from logical replication (pgoutput), summarised. */
export const ChangeTxnEvent = z.object({
  ...envelope,
  kind: z.literal('change.txn'),
  xid: z.number().int().nonnegative(),
  commitLsn: z.string(),
  commitTime: z.iso.datetime(),
  tables: z.array(TableChangeCounts),
  totalRows: z.number().int().nonnegative(),
  messages: z.array(LogicalMessage),
  personalData: z.array(PersonalDataFinding).optional(),
});

/** Health of one replication slot, polled from `pg_replication_slots`. */
export const SlotStatusEvent = z.object({
  ...envelope,
  kind: z.literal('replication.slot'),
  slot: z.string(),
  plugin: z.string().optional(),
  slotType: z.enum(['logical', 'physical']),
  active: z.boolean(),
  /** reserved → extended → unreserved → lost; `lost` is a permanent gap. */
  walStatus: z.string().optional(),
  safeWalSizeBytes: z.number().int().optional(),
  retainedWalBytes: z.number().int().nonnegative().optional(),
  /** Created by Vigie or listed by the site policy. */
  known: z.boolean(),
});

/** A publication seen in `pg_publication` (an unknown one is a possible exfiltration path). */
export const PublicationStatusEvent = z.object({
  ...envelope,
  kind: z.literal('replication.publication'),
  publication: z.string(),
  database: z.string(),
  allTables: z.boolean(),
  known: z.boolean(),
});
export type ChangeTxnEvent = z.infer<typeof ChangeTxnEvent>;
export type SlotStatusEvent = z.infer<typeof SlotStatusEvent>;
export type PublicationStatusEvent = z.infer<typeof PublicationStatusEvent>;
export type TableChangeCounts = z.infer<typeof TableChangeCounts>;
export type PersonalDataFinding = z.infer<typeof PersonalDataFinding>;
export type LogicalMessage = z.infer<typeof LogicalMessage>;

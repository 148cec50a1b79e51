import { z } from 'zod';
import { AuditSettingsEvent, LogGapEvent, LoggedStatementEvent } from './audit-integrity.js';
import { ChangeTxnEvent, PublicationStatusEvent, SlotStatusEvent } from './changes.js';
import { EgressSampleEvent } from './egress.js';
import { CollectorHeartbeatEvent } from './heartbeat.js';
import {
  AuthFailureEvent,
  ForgedRecordEvent,
  ReplicationCommandEvent,
  ReplicationConnectionEvent,
  SessionEndEvent,
  SessionErrorEvent,
  SessionStartEvent,
} from './session.js';
import { StatementEvent } from './statement.js';

/** Every event kind of contract v1, discriminated by `kind`. */
export const VigieEvent = z.discriminatedUnion('kind', [
  SessionStartEvent,
  SessionEndEvent,
  AuthFailureEvent,
  ReplicationConnectionEvent,
  ReplicationCommandEvent,
  SessionErrorEvent,
  ForgedRecordEvent,
  StatementEvent,
  ChangeTxnEvent,
  SlotStatusEvent,
  PublicationStatusEvent,
  EgressSampleEvent,
  CollectorHeartbeatEvent,
  AuditSettingsEvent,
  LogGapEvent,
  LoggedStatementEvent,
]);
export type VigieEvent = z.infer<typeof VigieEvent>;
export type EventKind = VigieEvent['kind'];
/** The event of one kind: `EventOf<'statement'>`. */
export type EventOf<K extends EventKind> = Extract<VigieEvent, { kind: K }>;

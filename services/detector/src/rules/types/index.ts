import type { RuleTypeImpl } from '../rule-type.js';
import { auditTampering } from './audit-tampering.js';
import { bulkRead } from './bulk-read.js';
import { collectorHealth } from './collector-health.js';
import { dumpSignature } from './dump-signature.js';
import { egressVolume } from './egress-volume.js';
import { forgedRecord } from './forged-record.js';
import { massWrite } from './mass-write.js';
import { offHours } from './off-hours.js';
import { personalDataInPreprod } from './personal-data-in-preprod.js';
import { replicationSlotRisk } from './replication-slot-risk.js';
import { vigieAccount } from './vigie-account.js';
import { privilegeEscalation } from './privilege-escalation.js';
import { serverFileAccess } from './server-file-access.js';
import { authBruteForce } from './auth-brute-force.js';
import { bastionBypass } from './bastion-bypass.js';
import { dormantAccount } from './dormant-account.js';
import { watchlistSession } from './watchlist-session.js';
import { genericInteractive } from './generic-interactive.js';

/**
 * Every rule type by its YAML name: the one list of rule types (the rule schema takes its names from here). A new
 * rule type is its own file plus one line here.
 */
const IMPLS = {
  'dump-signature': dumpSignature,
  'bulk-read': bulkRead,
  'off-hours': offHours,
  'egress-volume': egressVolume,
  'mass-write': massWrite,
  'replication-slot-risk': replicationSlotRisk,
  'personal-data-in-preprod': personalDataInPreprod,
  'vigie-account': vigieAccount,
  'collector-health': collectorHealth,
  'audit-tampering': auditTampering,
  'forged-record': forgedRecord,
  'privilege-escalation': privilegeEscalation,
  'server-file-access': serverFileAccess,
  'auth-brute-force': authBruteForce,
  'bastion-bypass': bastionBypass,
  'dormant-account': dormantAccount,
  'watchlist-session': watchlistSession,
  'generic-interactive': genericInteractive,
} satisfies Record<string, RuleTypeImpl<never>>;

/**
 * The rule types' names, in the registry's order (typed as strings: the rule schema is built from them, and the
 * rule types' own types refer to the schema).
 */
export const RULE_TYPES = Object.keys(IMPLS) as [string, ...string[]];

/** The rule types by name, each taking params its schema validated. */
export const RULE_TYPE_IMPLS: Readonly<Record<string, RuleTypeImpl<never> | undefined>> = IMPLS;

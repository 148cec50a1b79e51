import type { RuleType } from '../schema.js';
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

/** Every rule type by its YAML name. */
export const RULE_TYPE_IMPLS: { readonly [T in RuleType]: RuleTypeImpl<never> } = {
  'dump-signature': dumpSignature as RuleTypeImpl<never>,
  'bulk-read': bulkRead as RuleTypeImpl<never>,
  'off-hours': offHours as RuleTypeImpl<never>,
  'egress-volume': egressVolume as RuleTypeImpl<never>,
  'mass-write': massWrite as RuleTypeImpl<never>,
  'replication-slot-risk': replicationSlotRisk as RuleTypeImpl<never>,
  'personal-data-in-preprod': personalDataInPreprod as RuleTypeImpl<never>,
  'vigie-account': vigieAccount as RuleTypeImpl<never>,
  'collector-health': collectorHealth as RuleTypeImpl<never>,
  'audit-tampering': auditTampering as RuleTypeImpl<never>,
  'forged-record': forgedRecord as RuleTypeImpl<never>,
  'privilege-escalation': privilegeEscalation as RuleTypeImpl<never>,
  'server-file-access': serverFileAccess as RuleTypeImpl<never>,
  'auth-brute-force': authBruteForce as RuleTypeImpl<never>,
  'bastion-bypass': bastionBypass as RuleTypeImpl<never>,
  'dormant-account': dormantAccount as RuleTypeImpl<never>,
  'watchlist-session': watchlistSession as RuleTypeImpl<never>,
  'generic-interactive': genericInteractive as RuleTypeImpl<never>,
};

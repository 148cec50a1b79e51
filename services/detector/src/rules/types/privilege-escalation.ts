import type { PrivilegeChange, Severity } from '@vigie/contract';
import { patternMatcher } from '@vigie/policy';
import { z } from 'zod';
import { maxSeverity, type RuleContext, type SessionState } from '../../engine/rule-api.js';
import { defineRuleType } from '../rule-type.js';
import { actingRole, atWhen, byWhom, fromWhere, isPrivilegedSession, recordSessionFindings } from './common.js';

const Params = z
  .object({
    privilegedRoles: z
      .array(z.string().min(1))
      .default([
        'pg_read_all_data',
        'pg_write_all_data',
        'pg_read_server_files',
        'pg_write_server_files',
        'pg_execute_server_program',
        'pg_signal_backend',
      ])
      .describe(
        'roles (patterns) whose grant, ownership or SET ROLE is an escalation, besides the roles the catalog and the policy (roles.privileged) say are privileged',
      ),
    definerOwners: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'roles (patterns) that own the application code and may create SECURITY DEFINER functions (a migration role); anyone else doing it is reported',
      ),
    quietMinutes: z
      .number()
      .positive()
      .default(60)
      .describe('a session incident resolves after this long without another escalation'),
  })
  .strict();

/** `bob`, or the role a `CURRENT_USER` / `SESSION_USER` stands for in this session. */
function resolveRole(name: string, session: SessionState): string | undefined {
  switch (name) {
    case 'current_user':
    case 'current_role':
      return actingRole(session);
    case 'session_user':
      return session.login;
    default:
      return name;
  }
}

/**
 * `privilege-escalation`: a statement that gives a role more power than it had — from the parse tree (libs/sql):
 * `CREATE|ALTER ROLE … SUPERUSER|CREATEROLE|REPLICATION|BYPASSRLS`, `GRANT` (or `CREATE ROLE … IN ROLE`) of a
 * privileged role, `ALTER … OWNER TO` a privileged role, `SET ROLE` to a privileged role, and `SECURITY DEFINER`
 * functions created or altered by a role not listed in `definerOwners` (critical when that role is privileged: the
 * function hands its rights to every caller; a warning otherwise). A role is privileged when the catalog (refreshed
 * by the detector as soon as such a statement is seen) or the policy says so, or it matches `privilegedRoles`.
 * One incident per session, naming each change.
 */
export const privilegeEscalation = defineRuleType(Params, (base, p) => {
  const listed = patternMatcher(p.privilegedRoles);
  const definerOwner = patternMatcher(p.definerOwners);
  const quietMs = p.quietMinutes * 60_000;

  const privileged = (role: string, session: SessionState, ctx: RuleContext): boolean =>
    listed(role) || ctx.privileged.isPrivileged(session.cluster, role) || ctx.policy.isListedPrivileged(role);

  /** What a change is called in the alert, and how urgent it is; undefined when it escalates nothing. */
  function finding(
    c: PrivilegeChange,
    session: SessionState,
    ctx: RuleContext,
  ): { label: string; severity: Severity } | undefined {
    switch (c.action) {
      case 'role-attributes':
        return {
          label: `${c.created ? 'CREATE' : 'ALTER'} ROLE ${c.role} ${c.attributes.map((a) => a.toUpperCase()).join(' ')}`,
          severity: base.severity,
        };
      case 'grant-role': {
        const granted = c.roles.filter((r) => privileged(r, session, ctx));
        if (granted.length === 0) return undefined;
        return { label: `GRANT ${granted.join(', ')} TO ${c.grantees.join(', ')}`, severity: base.severity };
      }
      case 'owner-to': {
        const owner = resolveRole(c.owner, session);
        if (owner === undefined || !privileged(owner, session, ctx)) return undefined;
        return { label: `ALTER ${c.objectType.toUpperCase()} … OWNER TO ${owner}`, severity: base.severity };
      }
      case 'set-role': {
        if (c.role === session.login || !privileged(c.role, session, ctx)) return undefined;
        return { label: `SET ROLE ${c.role}`, severity: base.severity };
      }
      case 'security-definer': {
        const role = actingRole(session);
        if (role !== undefined && definerOwner(role)) return undefined;
        return {
          label: `SECURITY DEFINER ${c.function}`,
          severity: isPrivilegedSession(session, ctx) ? base.severity : 'warning',
        };
      }
    }
  }

  return {
    ...base,
    type: 'privilege-escalation',
    kinds: ['statement'],
    quietMs,
    onEvent(event, session, ctx) {
      if (event.kind !== 'statement' || session === undefined) return;
      const changes = event.sql.privileges;
      if (changes === undefined) return;
      const found = changes
        .map((c) => finding(c, session, ctx))
        .filter((f): f is NonNullable<typeof f> => f !== undefined);
      if (found.length === 0) return;
      recordSessionFindings(base, session, ctx, event, {
        severity: found.map((f) => f.severity).reduce(maxSeverity),
        labels: found.map((f) => f.label),
        quietMs,
      });
    },
    summarize(alert, _facts, timeZone) {
      return `privilege escalation: ${(alert.what.objects ?? []).join('; ')} ${byWhom(alert)} ${fromWhere(alert)} ${atWhen(alert, timeZone)}`;
    },
  };
});

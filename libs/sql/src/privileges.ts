import type { PrivilegeChange, RoleAttribute } from '@vigie/contract';
import { listField, nodeOf, structField, unwrapNode, type TreeObject } from './parse-tree.js';

/** The parser's `DefElem` names of the role attributes that matter (`REPLICATION` is `isreplication`). */
const ATTRIBUTES: Readonly<Record<string, RoleAttribute>> = {
  superuser: 'superuser',
  createrole: 'createrole',
  isreplication: 'replication',
  bypassrls: 'bypassrls',
};

/** What a statement changes in privileges; `fromLiteral`: a role name came from a string (`SET ROLE 'x'`). */
export interface PrivilegeEffects {
  privileges: PrivilegeChange[];
  fromLiteral: boolean;
}

/** A `RoleSpec` (`bob`, `CURRENT_USER`, `PUBLIC`…) as a name: the role, or the keyword lower-cased. */
function roleSpecName(spec: TreeObject | undefined): string | undefined {
  if (spec === undefined) return undefined;
  switch (spec['roletype']) {
    case 'ROLESPEC_CSTRING':
      return typeof spec['rolename'] === 'string' ? spec['rolename'] : undefined;
    case 'ROLESPEC_CURRENT_ROLE':
      return 'current_role';
    case 'ROLESPEC_CURRENT_USER':
      return 'current_user';
    case 'ROLESPEC_SESSION_USER':
      return 'session_user';
    case 'ROLESPEC_PUBLIC':
      return 'public';
    default:
      return undefined;
  }
}

const roleNames = (items: readonly unknown[]): string[] =>
  items.map((i) => roleSpecName(nodeOf(i, 'RoleSpec'))).filter((n): n is string => n !== undefined);

/** `DefElem` options of CREATE/ALTER ROLE: attributes turned on, and roles the new role joins (`IN ROLE`). */
function roleOptions(options: readonly unknown[]): { attributes: RoleAttribute[]; joins: string[] } {
  const attributes: RoleAttribute[] = [];
  const joins: string[] = [];
  for (const o of options) {
    const def = nodeOf(o, 'DefElem');
    if (def === undefined || typeof def['defname'] !== 'string') continue;
    const attribute = ATTRIBUTES[def['defname']];
    if (attribute !== undefined) {
      if (nodeOf(def['arg'], 'Boolean')?.['boolval'] === true) attributes.push(attribute);
    } else if (def['defname'] === 'addroleto') {
      joins.push(...roleNames(listField(nodeOf(def['arg'], 'List') ?? {}, 'items')));
    }
  }
  return { attributes, joins };
}

/** `schema.name` of a function as written (`String` parts joined), lower-cased by the parser already. */
function qualifiedName(parts: readonly unknown[]): string {
  return parts
    .map((p) => nodeOf(p, 'String')?.['sval'])
    .filter((s): s is string => typeof s === 'string')
    .join('.');
}

function isSecurityDefiner(options: readonly unknown[]): boolean {
  return options.some((o) => {
    const def = nodeOf(o, 'DefElem');
    return def?.['defname'] === 'security' && nodeOf(def['arg'], 'Boolean')?.['boolval'] === true;
  });
}

/** `OBJECT_FOREIGN_TABLE` → `foreign table`. */
const objectType = (t: unknown): string =>
  typeof t === 'string'
    ? t
        .replace(/^OBJECT_/, '')
        .replace(/_/g, ' ')
        .toLowerCase()
    : 'object';

/**
 * Privilege changes of parsed statements, from the parse tree only (never a pattern over the text): role attributes
 * granted by `CREATE|ALTER ROLE|USER`, role memberships granted (`GRANT r TO g`, `CREATE ROLE g IN ROLE r`),
 * ownership handed over (`ALTER … OWNER TO`), `SECURITY DEFINER` functions created or altered, and `SET ROLE` /
 * `SET SESSION AUTHORIZATION` targets. Revocations and `NO…` attributes take privileges away: not listed.
 */
export function privilegeEffects(statements: readonly { stmt?: unknown }[]): PrivilegeEffects {
  const privileges: PrivilegeChange[] = [];
  let fromLiteral = false;
  for (const { stmt } of statements) {
    const node = unwrapNode(stmt);
    if (node === undefined) continue;
    const [type, body] = node;
    switch (type) {
      case 'CreateRoleStmt':
      case 'AlterRoleStmt': {
        const created = type === 'CreateRoleStmt';
        const role = created
          ? typeof body['role'] === 'string'
            ? body['role']
            : undefined
          : roleSpecName(structField(body, 'role'));
        if (role === undefined) break;
        const { attributes, joins } = roleOptions(listField(body, 'options'));
        if (attributes.length > 0) privileges.push({ action: 'role-attributes', role, attributes, created });
        if (joins.length > 0) privileges.push({ action: 'grant-role', roles: joins, grantees: [role] });
        break;
      }
      case 'GrantRoleStmt': {
        if (body['is_grant'] !== true) break;
        const roles = listField(body, 'granted_roles')
          .map((r) => nodeOf(r, 'AccessPriv')?.['priv_name'])
          .filter((n): n is string => typeof n === 'string');
        const grantees = roleNames(listField(body, 'grantee_roles'));
        if (roles.length > 0) privileges.push({ action: 'grant-role', roles, grantees });
        break;
      }
      case 'AlterOwnerStmt': {
        const owner = roleSpecName(structField(body, 'newowner'));
        if (owner !== undefined)
          privileges.push({ action: 'owner-to', objectType: objectType(body['objectType']), owner });
        break;
      }
      case 'AlterTableStmt':
        for (const c of listField(body, 'cmds')) {
          const cmd = nodeOf(c, 'AlterTableCmd');
          if (cmd?.['subtype'] !== 'AT_ChangeOwner') continue;
          const owner = roleSpecName(structField(cmd, 'newowner'));
          if (owner !== undefined)
            privileges.push({ action: 'owner-to', objectType: objectType(body['objtype']), owner });
        }
        break;
      case 'CreateFunctionStmt':
        if (isSecurityDefiner(listField(body, 'options'))) {
          privileges.push({ action: 'security-definer', function: qualifiedName(listField(body, 'funcname')) });
        }
        break;
      case 'AlterFunctionStmt':
        if (isSecurityDefiner(listField(body, 'actions'))) {
          const func = structField(body, 'func');
          privileges.push({
            action: 'security-definer',
            function: func === undefined ? '?' : qualifiedName(listField(func, 'objname')),
          });
        }
        break;
      case 'VariableSetStmt': {
        if (body['kind'] !== 'VAR_SET_VALUE') break;
        if (body['name'] !== 'role' && body['name'] !== 'session_authorization') break;
        const value = nodeOf(listField(body, 'args')[0], 'A_Const');
        const role = value === undefined ? undefined : structField(value, 'sval')?.['sval'];
        if (typeof role === 'string') {
          privileges.push({ action: 'set-role', role });
          // `SET ROLE 'x'` names the role with a literal, which the cache key (the statement's shape) hides.
          fromLiteral = true;
        }
        break;
      }
    }
  }
  return { privileges, fromLiteral };
}

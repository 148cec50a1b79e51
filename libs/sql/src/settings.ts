import type { SettingChange } from '@vigie/contract';
import { isTreeObject, listField, nodeOf, structField, unwrapNode, type TreeObject } from './parse-tree.js';

/** What a statement does to the server's configuration, from its parse tree. */
export interface SettingEffects {
  settings: SettingChange[];
  /** Extensions the statement drops (`DROP EXTENSION pgaudit`), lower-cased. */
  droppedExtensions: string[];
  /** A setting name came from a literal (`set_config('pgaudit.log', …)`): the analysis depends on a literal. */
  fromLiteral: boolean;
}

/** `SET`, `RESET`, `RESET ALL` (name `all`) of a VariableSetStmt body. */
function fromSetStmt(body: TreeObject, scope: SettingChange['scope']): SettingChange | undefined {
  const kind = body['kind'];
  const reset = kind === 'VAR_RESET' || kind === 'VAR_RESET_ALL';
  // SET TRANSACTION …, SET CONSTRAINTS and friends (VAR_SET_MULTI) name no parameter a site audits.
  if (kind === 'VAR_SET_MULTI') return undefined;
  const name = kind === 'VAR_RESET_ALL' ? 'all' : body['name'];
  if (typeof name !== 'string' || name === '') return undefined;
  const local = scope === 'session' && body['is_local'] === true;
  return { name: name.toLowerCase(), scope: local ? 'local' : scope, ...(reset && { reset: true }) };
}

/** A configuration parameter name: an identifier, or two joined by a dot (custom and extension parameters). */
const GUC_NAME = /^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$/;

/** `set_config(name, value, is_local)`: its name when it is a constant, `?` when computed. */
function fromSetConfig(call: TreeObject): { change: SettingChange; literal: boolean } | undefined {
  const parts = listField(call, 'funcname').map((p) => nodeOf(p, 'String')?.['sval']);
  const fn = parts.at(-1);
  if (fn !== 'set_config' || (parts.length === 2 && parts[0] !== 'pg_catalog') || parts.length > 2) return undefined;
  const [nameArg, , localArg] = listField(call, 'args');
  const constant = nodeOf(nameArg, 'A_Const');
  const sval = constant === undefined ? undefined : structField(constant, 'sval')?.['sval'];
  const local = nodeOf(localArg, 'A_Const');
  const isLocal = local !== undefined && structField(local, 'boolval')?.['boolval'] === true;
  const scope = isLocal ? 'local' : 'session';
  // A literal leaves the collector only when it is shaped like a parameter name (`pgaudit.log`, `app.tenant`).
  if (typeof sval === 'string' && GUC_NAME.test(sval)) {
    return { change: { name: sval.toLowerCase(), scope }, literal: true };
  }
  return { change: { name: '?', scope }, literal: typeof sval === 'string' };
}

/**
 * Configuration changes a parsed statement makes: `SET`/`RESET` (session or local), `ALTER SYSTEM`,
 * `ALTER ROLE|DATABASE … SET|RESET`, `ALTER|CREATE FUNCTION … SET` (the setting applies whenever the function runs),
 * `set_config()` calls anywhere in the statement (the name when it is a constant, else `?`), and dropped
 * extensions. Setting names are identifiers (`pgaudit.log`), never values: nothing personal.
 */
export function settingEffects(statements: readonly { stmt?: unknown }[]): SettingEffects {
  const settings: SettingChange[] = [];
  const droppedExtensions: string[] = [];
  let fromLiteral = false;
  const add = (c: SettingChange | undefined) => {
    if (c !== undefined && !settings.some((s) => s.name === c.name && s.scope === c.scope)) settings.push(c);
  };
  const functionOptions = (options: readonly unknown[]) => {
    for (const o of options) {
      const def = nodeOf(o, 'DefElem');
      const set = def === undefined ? undefined : nodeOf(def['arg'], 'VariableSetStmt');
      if (def?.['defname'] === 'set' && set !== undefined) add(fromSetStmt(set, 'function'));
    }
  };
  // set_config can hide in any expression (a subquery, a CASE, a CTE): walk the whole tree for calls.
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const v of value) walk(v);
      return;
    }
    const node = unwrapNode(value);
    if (node?.[0] === 'FuncCall') {
      const found = fromSetConfig(node[1]);
      if (found !== undefined) {
        add(found.change);
        fromLiteral ||= found.literal;
      }
    }
    const body = node?.[1] ?? (isTreeObject(value) ? value : undefined);
    if (body === undefined) return;
    for (const key in body) {
      const v = body[key];
      if (typeof v === 'object' && v !== null) walk(v);
    }
  };
  for (const { stmt } of statements) {
    const node = unwrapNode(stmt);
    if (node === undefined) continue;
    const [type, body] = node;
    switch (type) {
      case 'VariableSetStmt':
        add(fromSetStmt(body, 'session'));
        break;
      case 'AlterSystemStmt': {
        const set = structField(body, 'setstmt');
        if (set !== undefined) add(fromSetStmt(set, 'system'));
        break;
      }
      case 'AlterRoleSetStmt': {
        const set = structField(body, 'setstmt');
        if (set !== undefined) add(fromSetStmt(set, 'role'));
        break;
      }
      case 'AlterDatabaseSetStmt': {
        const set = structField(body, 'setstmt');
        if (set !== undefined) add(fromSetStmt(set, 'database'));
        break;
      }
      case 'AlterFunctionStmt':
        functionOptions(listField(body, 'actions'));
        break;
      case 'CreateFunctionStmt':
        functionOptions(listField(body, 'options'));
        break;
      case 'DropStmt':
        if (body['removeType'] === 'OBJECT_EXTENSION') {
          for (const o of listField(body, 'objects')) {
            const name = nodeOf(o, 'String')?.['sval'];
            if (typeof name === 'string') droppedExtensions.push(name.toLowerCase());
          }
        }
        break;
    }
    walk(stmt);
  }
  return { settings, droppedExtensions, fromLiteral };
}

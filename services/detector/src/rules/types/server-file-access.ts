import { isIP } from 'node:net';
import type { Severity, StatementEvent } from '@vigie/contract';
import { networkMatcher, patternMatcher, type CompiledPolicy } from '@vigie/policy';
import { z } from 'zod';
import { maxSeverity } from '../../engine/rule-api.js';
import { defineRuleType } from '../rule-type.js';
import { atWhen, byWhom, fromWhere, qualify, recordSessionFindings, tableList } from './common.js';

const HostEntry = z
  .string()
  .min(1)
  .refine((s) => {
    if (!s.includes('/')) return true;
    const [addr, bits, extra] = s.split('/');
    const family = addr === undefined ? 0 : isIP(addr);
    return (
      extra === undefined && family !== 0 && /^\d{1,3}$/.test(bits ?? '') && Number(bits) <= (family === 4 ? 32 : 128)
    );
  }, 'a host name pattern (db-*.example) or a CIDR (10.20.0.0/24)');

const Params = z
  .object({
    functions: z
      .array(z.string().min(1))
      .default([
        'pg_read_file',
        'pg_read_binary_file',
        'pg_stat_file',
        'pg_ls_*',
        'pg_file_*',
        'pg_logdir_ls',
        'lo_import',
        'lo_export',
      ])
      .describe(
        'functions (patterns, unqualified) that reach server files; only functions the SQL analysis marks dangerous are looked at (dblink* is judged by its host)',
      ),
    xmlFunctions: z
      .array(z.string().min(1))
      .default(['query_to_xml*', 'table_to_xml*', 'schema_to_xml*', 'database_to_xml*', 'cursor_to_xml*'])
      .describe('functions that run a read held in a string or a cursor (the read is not in the statement text)'),
    declaredHosts: z
      .array(HostEntry)
      .default([])
      .describe(
        'remote database hosts dblink / postgres_fdw may reach (host name patterns or CIDRs); any other host is critical',
      ),
    quietMinutes: z
      .number()
      .positive()
      .default(60)
      .describe('a session incident resolves after this long without another such statement'),
  })
  .strict();

/** `schema.fn` → `fn`. */
const unqualified = (name: string): string => name.slice(name.lastIndexOf('.') + 1);

/**
 * `server-file-access`: data leaving or entering through the server rather than the result set — `COPY … TO|FROM
 * PROGRAM` (critical: a shell on the database host), `COPY … TO|FROM '/file'`, server file functions
 * (`pg_read_file`, `pg_ls_dir`, `lo_import`/`lo_export`… from the analysis' `dangerousFunctions`), `dblink` /
 * `postgres_fdw` connections to hosts not in `declaredHosts` (critical), and reads hidden in a string
 * (`query_to_xml('SELECT … FROM citizens')`, `table_to_xml`, `cursor_to_xml`). Critical as soon as a
 * personal-data table is involved. One incident per session.
 */
export const serverFileAccess = defineRuleType(Params, (base, p) => {
  const fileFunction = patternMatcher(p.functions);
  const xmlFunction = patternMatcher(p.xmlFunctions);
  const hostNames = patternMatcher(p.declaredHosts.filter((h) => !h.includes('/')));
  const hostNets = networkMatcher(p.declaredHosts.filter((h) => h.includes('/')));
  const declared = (host: string) => hostNames(host) || hostNets(host);
  const quietMs = p.quietMinutes * 60_000;

  /** What the statement does through the server, each with its severity, and the relations involved. */
  function findings(
    sql: StatementEvent['sql'],
    policy: CompiledPolicy,
  ): { objects: { label: string; severity: Severity }[]; tables: string[] } {
    const objects: { label: string; severity: Severity }[] = [];
    const tables: string[] = [];
    const personal = (relations: readonly string[]) => relations.some((r) => policy.isPersonalDataTable(r));
    if (sql.copy !== undefined && (sql.copy.target === 'program' || sql.copy.target === 'file')) {
      const rel = sql.copy.relation === undefined ? [] : [qualify(sql.copy.relation)];
      const reads = sql.copy.hasQuery ? sql.reads.map(qualify) : rel;
      tables.push(...reads);
      const way = sql.copy.direction === 'to' ? 'TO' : 'FROM';
      objects.push({
        label: `COPY ${way} ${sql.copy.target === 'program' ? 'PROGRAM' : 'FILE'}`,
        severity: sql.copy.target === 'program' || personal(reads) ? 'critical' : base.severity,
      });
    }
    for (const f of sql.dangerousFunctions) {
      const name = unqualified(f);
      if (fileFunction(name)) objects.push({ label: `${name}()`, severity: base.severity });
    }
    for (const h of sql.remoteHosts ?? []) {
      if (!declared(h)) objects.push({ label: `remote database ${h}`, severity: 'critical' });
    }
    const xml = sql.functions.map(unqualified).filter(xmlFunction);
    if (xml.length > 0) {
      const hidden = (sql.hiddenReads ?? []).filter((r) => r !== '?' && r !== '*' && !r.endsWith('.*')).map(qualify);
      tables.push(...hidden);
      const wide = (sql.hiddenReads ?? []).filter((r) => r === '*' || r.endsWith('.*'));
      const what = [...hidden, ...wide];
      for (const name of new Set(xml)) {
        objects.push({
          label: what.length > 0 ? `${name}(${what.join(', ')})` : `${name}()`,
          severity: personal(hidden) || wide.length > 0 ? 'critical' : base.severity,
        });
      }
    }
    return { objects, tables };
  }

  return {
    ...base,
    type: 'server-file-access',
    kinds: ['statement'],
    quietMs,
    onEvent(event, session, ctx) {
      if (event.kind !== 'statement' || session === undefined) return;
      const { objects, tables } = findings(event.sql, ctx.policy);
      if (objects.length === 0) return;
      recordSessionFindings(base, session, ctx, event, {
        severity: objects.map((o) => o.severity).reduce(maxSeverity),
        labels: objects.map((o) => o.label),
        tables,
        quietMs,
      });
    },
    summarize(alert, _facts, timeZone) {
      const tables = alert.what.tables.length > 0 ? ` (tables: ${tableList(alert.what.tables)})` : '';
      return `server-side data path: ${(alert.what.objects ?? []).join('; ')}${tables} ${byWhom(alert)} ${fromWhere(alert)} ${atWhen(alert, timeZone)}`;
    },
  };
});

// Realistic event streams for the detector benchmarks and the scale-out tests: what collector-pglog emits for a
// monitored cluster where an application (service account) runs OLTP, DBAs work through the bastion, a contractor
// reads personal data from outside it, and now and then someone runs pg_dump. Statement analysis comes from the real
// @vigie/sql analyzer.
import type { SqlAnalysis, VigieEvent } from '@vigie/contract';

/** The analyzer's one method the generator needs. */
export interface Analyzer {
  analyze(sql: string): SqlAnalysis;
}

let seed = 7;
function rand(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}

/** What pg_dump runs to dump the demo's two personal tables, as pgaudit logs it. */
export const PG_DUMP_STATEMENTS: readonly string[] = [
  'SET extra_float_digits TO 3',
  'SET synchronize_seqscans TO off',
  'SET row_security = off',
  'BEGIN',
  'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY',
  'LOCK TABLE public.citizens IN ACCESS SHARE MODE',
  'LOCK TABLE social.payments IN ACCESS SHARE MODE',
  'COPY public.citizens (id, nir, name, email) TO stdout;',
  'COPY social.payments (id, citizen_id, iban, amount) TO stdout;',
];

interface Persona {
  user: string;
  clientAddr: string;
  applicationName: string;
  /** Statements of one session, as SQL text. */
  statements(): string[];
  weight: number;
}

const PERSONAS: Persona[] = [
  {
    user: 'app_backend',
    clientAddr: '127.0.0.10',
    applicationName: 'backend',
    weight: 70,
    statements: () =>
      Array.from({ length: 40 }, (_, i) =>
        i % 4 === 0
          ? `SELECT id, nir, email FROM public.citizens WHERE id = ${rand(100_000)}`
          : i % 4 === 1
            ? `UPDATE pgbench_accounts SET abalance = abalance + ${rand(5000)} WHERE aid = ${rand(100_000)}`
            : i % 4 === 2
              ? `SELECT abalance FROM pgbench_accounts WHERE aid = ${rand(100_000)}`
              : `INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (${rand(10)}, 1, ${rand(100_000)}, ${rand(5000)}, CURRENT_TIMESTAMP)`,
      ),
  },
  {
    user: 'dba_alice',
    clientAddr: '127.0.0.2',
    applicationName: 'psql',
    weight: 20,
    statements: () => [
      `SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ${rand(90_000)}`,
      `SELECT * FROM social.benefit_claims WHERE id = ${rand(100_000)}`,
      `SELECT count(*) FROM public.citizens WHERE created_at > now() - interval '1 day'`,
      `VACUUM ANALYZE social.payments`,
    ],
  },
  {
    user: 'contractor_bob',
    clientAddr: '127.0.0.3',
    applicationName: 'DBeaver',
    weight: 8,
    statements: () => [
      `SELECT * FROM public.citizens WHERE email = 'user${rand(1e6)}@exemple.fr'`,
      `SELECT id, nir, name, email, phone FROM public.citizens`,
      `SELECT * FROM social.payments WHERE citizen_id = ${rand(100_000)}`,
    ],
  },
  {
    user: 'dba_alice',
    clientAddr: '127.0.0.3',
    applicationName: 'pg_dump',
    weight: 2,
    statements: () => [...PG_DUMP_STATEMENTS],
  },
];

const TOTAL_WEIGHT = PERSONAS.reduce((s, p) => s + p.weight, 0);
function pickPersona(): Persona {
  let r = rand(TOTAL_WEIGHT);
  for (const p of PERSONAS) {
    if (r < p.weight) return p;
    r -= p.weight;
  }
  return PERSONAS[0] as Persona;
}

function pgauditOf(sql: SqlAnalysis): { cls: 'READ' | 'WRITE' | 'MISC'; command: string } {
  switch (sql.kind) {
    case 'select':
      return { cls: 'READ', command: 'SELECT' };
    case 'copy':
      return { cls: 'READ', command: 'COPY' };
    case 'insert':
    case 'update':
    case 'delete':
      return { cls: 'WRITE', command: sql.kind.toUpperCase() };
    default:
      return { cls: 'MISC', command: sql.kind.toUpperCase() };
  }
}

/** Options of {@link generateEvents}. */
export interface GenerateOptions {
  cluster: string;
  /** Sessions open at the same time (events interleave across them). */
  concurrentSessions: number;
  /** Stop after this many events. */
  total: number;
  /** Event time of the first event; events are `stepMs` apart. */
  startMs?: number;
  stepMs?: number;
  /** Never end sessions (the memory benchmark keeps them all open). */
  keepOpen?: boolean;
  /**
   * Restart the random sequence at this seed: the same options then give the same events, whatever was generated
   * before in the process. The sequence is shared by all generators: drain one before starting the next.
   */
  seed?: number;
}

/**
 * Yields events session by session interleaved round-robin: session.start, its statements, session.end, and a new
 * session takes the slot. Session ids are unique hex pairs like the server's.
 */
export function* generateEvents(analyzer: Analyzer, o: GenerateOptions): Generator<VigieEvent> {
  if (o.seed !== undefined) seed = o.seed;
  const stepMs = o.stepMs ?? 0;
  let ts = o.startMs ?? Date.now();
  let nextPid = 1;
  const epoch = Math.floor(ts / 1000).toString(16);
  interface Slot {
    session: NonNullable<VigieEvent['session']>;
    queue: string[];
    line: number;
  }
  const open = (): Slot => {
    const p = pickPersona();
    const pid = nextPid++;
    return {
      session: {
        id: `${epoch}.${pid.toString(16)}`,
        pid,
        user: p.user,
        database: 'app',
        clientAddr: p.clientAddr,
        clientPort: 30_000 + (pid % 30_000),
        applicationName: p.applicationName,
        backendType: 'client backend',
        startedAt: new Date(ts).toISOString(),
      },
      queue: o.keepOpen ? [] : p.statements(),
      line: 0,
    };
  };
  const slots: (Slot | undefined)[] = Array.from({ length: o.concurrentSessions }, () => undefined);
  let emitted = 0;
  while (emitted < o.total) {
    for (let i = 0; i < slots.length && emitted < o.total; i += 1) {
      let slot = slots[i];
      const base = () => {
        const s = slot as Slot;
        s.line += 1;
        ts += stepMs;
        emitted += 1;
        return {
          v: 1 as const,
          id: `${o.cluster}:${s.session.id}:${s.line}`,
          cluster: o.cluster,
          ts: new Date(ts).toISOString(),
          session: s.session,
        };
      };
      if (slot === undefined) {
        slot = open();
        slots[i] = slot;
        yield { ...base(), kind: 'session.start' };
        continue;
      }
      const sql = slot.queue.shift();
      if (sql === undefined) {
        if (o.keepOpen) {
          // An idle-looking operator session: one cheap statement now and then keeps it alive.
          const analysis = analyzer.analyze('SELECT 1');
          yield statement(base(), analysis);
          continue;
        }
        yield { ...base(), kind: 'session.end', durationMs: 1000 };
        slots[i] = undefined;
        continue;
      }
      yield statement(base(), analyzer.analyze(sql));
    }
  }
}

/**
 * A pgaudit statement event for one analysed statement: pgaudit's class and command from the analysis, the tables it
 * names as audit objects, and rows as pgaudit logs them (one for a lookup, a whole table without WHERE).
 */
export function statement(
  base: Omit<Extract<VigieEvent, { kind: 'statement' }>, 'kind' | 'audit' | 'sql'>,
  sql: SqlAnalysis,
) {
  const { cls, command } = pgauditOf(sql);
  const objects = [...sql.reads, ...sql.writes].map((name) => ({ type: 'TABLE', name }));
  const event: VigieEvent = {
    ...base,
    kind: 'statement',
    audit: {
      auditTypes: ['SESSION'],
      statementId: Number(base.id.split(':').at(-1)),
      substatementId: 1,
      class: cls,
      command,
      objects,
      parameterCount: 0,
      ...(cls === 'READ' ? { rows: command === 'COPY' ? 0 : sql.hasWhere ? 1 : 100_000 } : {}),
    },
    sql,
  };
  return event;
}

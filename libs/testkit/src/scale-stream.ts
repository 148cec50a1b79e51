// A recorded stream for the scale-out test: several PostgreSQL clusters, each with OLTP noise (the benchmark's generator)
// and the same scripted incidents, so that one detector and a consumer group of several must raise the same alerts.
// The incidents are chosen to cross sessions and topics (failures then a login, a write and its WAL summary, egress
// samples with and without a session, heartbeats): what partitioning the stream by cluster must keep together.
// Every incident fires on event time or at once: none waits for the detector's clock to move (the live test drains
// the stream in seconds with arrival = Date.now()).
import type { z } from 'zod';
import { collectorHeartbeat, sessionIdOf, type SessionInfo, type VigieEvent } from '@vigie/contract';
import type { SitePolicy } from '@vigie/policy';
import { createSqlAnalyzer } from '@vigie/sql';
import { generateEvents, PG_DUMP_STATEMENTS, statement, type Analyzer } from './detector-events.js';

/** The policy as written in YAML (what `SitePolicy.parse` takes). */
export type SitePolicyInput = z.input<typeof SitePolicy>;

export interface ScaleStream {
  /** Every cluster's events, sorted by event time. */
  events: VigieEvent[];
  policy: SitePolicyInput;
  /** Roles the test treats as privileged (the catalog's answer). */
  privileged: string[];
  clusters: string[];
}

export interface ScaleStreamOptions {
  clusters: number;
  /** Events of OLTP noise per cluster (./detector-events.ts), besides the scripted incidents. */
  noisePerCluster: number;
  /** Event time of the first event. */
  startMs: number;
  /** Event-time step between two noise events of a cluster (default 10 ms: 25,000 events span 250 s). */
  stepMs?: number;
}

/**
 * What the stream fires on every cluster: the shipped rules but dormant-account-login, which needs the role history
 * of the store or the catalog (a role last seen 90 days ago), not events.
 */
export const SCALE_STREAM_RULES: readonly string[] = [
  'audit-tampering',
  'auth-brute-force',
  'bastion-bypass',
  'bulk-read',
  'collector-silent',
  'dump',
  'forged-audit-record',
  'generic-account-interactive',
  'mass-write',
  'non-bastion-egress',
  'off-hours-privileged-session',
  'personal-data-in-preprod',
  'privilege-escalation',
  'replication-slot-risk',
  'server-file-access',
  'vigie-account-misuse',
  'watchlist-session',
];

const BASTION = '127.0.0.2';
const PRIVILEGED = ['dba_root', 'admin'];

/** Gap between two events of a scripted incident: human pace, well inside every rule's window. */
const SCRIPT_STEP_MS = 1000;

function policyOf(clusters: string[]): SitePolicyInput {
  return {
    // Pre-production, so that personal data found in the WAL is an incident; no other rule reads the environment.
    clusters: clusters.map((name) => ({ name, environment: 'pre-production' })),
    bastion: { networks: [`${BASTION}/32`] },
    // No business day: every privileged session is off hours, whatever day and hour the test runs.
    businessHours: { timezone: 'Europe/Paris', days: [] },
    personalData: { tables: ['public.citizens', 'social.*'] },
    roles: {
      // What a detector without a catalog connection takes as privileged (the scale-out test's instances).
      privileged: [...PRIVILEGED],
      service: ['app_*'],
      generic: ['postgres', 'admin'],
      watchlist: ['leaver_eve'],
      vigie: ['vigie', 'vigie_detector', 'vigie_collector', 'vigie_responder'],
    },
    replication: { knownSlots: ['vigie_*'] },
  };
}

/** Writes one cluster's scripted incidents, one after the other on event time. */
class Script {
  readonly events: VigieEvent[] = [];
  private nextXid = 9000;

  /**
   * `firstPid`: above the noise's pids (which count from 1, one per session, so fewer than its events): session
   * ids never collide.
   */
  constructor(
    readonly cluster: string,
    private readonly analyzer: Analyzer,
    public ts: number,
    private nextPid: number,
  ) {}

  private tick(): string {
    this.ts += SCRIPT_STEP_MS;
    return new Date(this.ts).toISOString();
  }

  /** A new backend (one per connection attempt, as the server forks one): its events, line by line. */
  session(user: string, clientAddr: string, applicationName: string) {
    const pid = this.nextPid++;
    const info: SessionInfo = {
      id: sessionIdOf(this.ts / 1000, pid),
      pid,
      user,
      database: 'app',
      clientAddr,
      clientPort: 30_000 + (pid % 30_000),
      applicationName,
      backendType: 'client backend',
      startedAt: new Date(this.ts).toISOString(),
    };
    let line = 0;
    const base = () => {
      line += 1;
      return {
        v: 1 as const,
        id: `${this.cluster}:${info.id}:${line}`,
        cluster: this.cluster,
        ts: this.tick(),
        session: info,
      };
    };
    let sent = 0;
    const s = {
      info,
      start: () => (this.events.push({ ...base(), kind: 'session.start' }), s),
      end: () => (this.events.push({ ...base(), kind: 'session.end', durationMs: 5000 }), s),
      failedLogin: () => {
        this.events.push({
          ...base(),
          kind: 'auth.failure',
          user,
          sqlstate: '28P01',
          reason: 'password authentication failed',
        });
        return s;
      },
      sql: (text: string, extra: { rows?: number; txid?: string } = {}) => {
        const event = statement(base(), this.analyzer.analyze(text));
        if (extra.rows !== undefined) event.audit.rows = extra.rows;
        this.events.push(extra.txid === undefined ? event : { ...event, txid: extra.txid });
        return s;
      },
      egress: (bytes: number, final: boolean) => {
        const b = base();
        this.events.push({
          ...b,
          id: `${b.id}:egress`,
          kind: 'egress.sample',
          transport: 'tcp',
          bytesSent: sent + bytes,
          bytesSentDelta: bytes,
          final,
        });
        sent += bytes;
        return s;
      },
      forged: () => {
        this.events.push({
          ...base(),
          kind: 'record.forged',
          claimed: 'audit',
          reasons: ['context', 'statement'],
          severity: 'LOG',
          claimedClass: 'MISC',
          claimedCommand: 'SET',
        });
        return s;
      },
    };
    return s;
  }

  /** A write's WAL summary (vigie.changes.v1), `personalData` as the replication collector's scan finds it. */
  changeTxn(
    xid: number,
    tables: { table: string; insert?: number; update?: number; delete?: number }[],
    personalData?: Extract<VigieEvent, { kind: 'change.txn' }>['personalData'],
  ): void {
    const ts = this.tick();
    const lsn = `0/${(0x3000000 + xid * 0x100).toString(16).toUpperCase()}`;
    const counts = tables.map((t) => ({
      table: t.table,
      insert: t.insert ?? 0,
      update: t.update ?? 0,
      delete: t.delete ?? 0,
      truncate: 0,
    }));
    this.events.push({
      v: 1,
      id: `${this.cluster}:txn:${lsn}`,
      kind: 'change.txn',
      cluster: this.cluster,
      ts,
      source: { file: 'wal', lsn },
      xid,
      commitLsn: lsn,
      commitTime: ts,
      tables: counts,
      totalRows: counts.reduce((n, t) => n + t.insert + t.update + t.delete, 0),
      messages: [],
      ...(personalData !== undefined && { personalData }),
    });
  }

  xid(): number {
    return this.nextXid++;
  }

  /** A final egress sample the egress collector could not join to a session: only the peer names it. */
  unjoinedEgress(addr: string, port: number, bytes: number): void {
    this.events.push({
      v: 1,
      id: `${this.cluster}:egress:${addr}:${port}:1`,
      kind: 'egress.sample',
      cluster: this.cluster,
      ts: this.tick(),
      transport: 'tcp',
      bytesSent: bytes,
      bytesSentDelta: bytes,
      final: true,
      peer: { addr, port },
    });
  }

  heartbeat(
    collector: 'collector-pglog' | 'collector-replication' | 'collector-egress',
    fields: Omit<Parameters<typeof collectorHeartbeat>[0], 'cluster' | 'collector' | 'instance' | 'at'>,
  ): void {
    this.tick();
    this.events.push(
      collectorHeartbeat({
        cluster: this.cluster,
        collector,
        instance: `${this.cluster}-db1`,
        at: new Date(this.ts),
        ...fields,
      }),
    );
  }

  slot(slot: string, known: boolean): void {
    const ts = this.tick();
    this.events.push({
      v: 1,
      id: `${this.cluster}:slot:${slot}:${this.ts}`,
      kind: 'replication.slot',
      cluster: this.cluster,
      ts,
      slot,
      plugin: 'pgoutput',
      slotType: 'logical',
      active: true,
      walStatus: 'reserved',
      retainedWalBytes: 1 << 20,
      known,
    });
  }
}

/** The incidents every cluster gets, in this order (about two minutes of event time). */
function scriptIncidents(s: Script): void {
  // The pglog collector beats but has been unable to read the log for 90 s: alive but blind (collector-silent at
  // once, on event time). No collector beats healthily: its silence, judged on the detector's clock 60 s after the
  // heartbeat arrived, would raise a new alert while the test waits. Vigie's accounts are known from the policy.
  s.heartbeat('collector-pglog', {
    health: { state: 'failing', since: new Date(s.ts - 90_000).toISOString(), error: 'VIGIE_PGLOG_SOURCE_READ EACCES' },
  });

  // Password guessing over several connections, then the guess works (auth-brute-force: role, then the login).
  for (let i = 0; i < 6; i += 1) s.session('ops_carol', '10.20.0.7', 'psql').failedLogin();
  const carol = s.session('ops_carol', '10.20.0.7', 'psql').start();

  // A privileged DBA at night from the bastion (off-hours-privileged-session), granting a data role
  // (privilege-escalation) and reading a server file (server-file-access).
  s.session('dba_root', BASTION, 'psql')
    .start()
    .sql('GRANT pg_read_all_data TO ops_carol')
    .sql("SELECT pg_read_file('/etc/passwd')", { rows: 1 })
    .end();

  // The guesser reads the whole citizens table from outside the bastion (bastion-bypass, bulk-read) and receives
  // 600 MB (non-bastion-egress, per session).
  carol
    .sql('SELECT id, nir, name, email, phone FROM public.citizens', { rows: 120_000 })
    .egress(60_000_000, false)
    .egress(540_000_000, true)
    .end();

  // Short connections the egress collector saw but could not join to a session: 3 × 80 MB to one host.
  for (let i = 0; i < 3; i += 1) s.unjoinedEgress('10.20.0.11', 41_000 + i, 80_000_000);

  // pg_dump from a workstation (dump).
  const dump = s.session('dba_alice', '10.20.0.9', 'backup');
  dump.start();
  for (const sql of PG_DUMP_STATEMENTS) dump.sql(sql);
  dump.end();

  // A contractor deletes 2,500 citizens in one transaction: the pgaudit line carries the txid, the WAL summary the
  // same xid (mass-write, attributed across topics). He also forges a pgaudit record (forged-audit-record).
  const xid = s.xid();
  const bob = s.session('contractor_bob', '127.0.0.3', 'psql').start();
  bob.forged().sql("DELETE FROM public.citizens WHERE created_at < '2020-01-01'", { txid: String(xid) });
  s.changeTxn(xid, [{ table: 'public.citizens', delete: 2500 }]);
  bob.end();

  // The shared admin account (generic-account-interactive) turns pgaudit off and reloads (audit-tampering).
  s.session('admin', BASTION, 'psql')
    .start()
    .sql("ALTER SYSTEM SET pgaudit.log = 'none'")
    .sql('SELECT pg_reload_conf()', { rows: 1 })
    .end();

  // A leaver looks at payments (watchlist-session).
  s.session('leaver_eve', BASTION, 'psql').start().sql('SELECT * FROM social.payments WHERE id = 3').end();

  // Vigie's collector account from a workstation, reading personal data (vigie-account-misuse, at once).
  s.session('vigie_collector', '10.20.0.12', 'psql').start().sql('SELECT * FROM public.citizens').end();

  // An unknown logical slot streaming the database (replication-slot-risk).
  s.slot('exfil', false);

  // A load into this pre-production cluster carries real NIRs (personal-data-in-preprod).
  s.changeTxn(
    s.xid(),
    [{ table: 'public.people', insert: 4 }],
    [{ table: 'public.people', column: 'nir', type: 'nir', count: 3 }],
  );
}

/**
 * The stream: deterministic for given options (noise seeded per cluster, scripted ids derived from the cluster and
 * event time).
 */
export async function scaleStream(o: ScaleStreamOptions): Promise<ScaleStream> {
  const analyzer = await createSqlAnalyzer();
  const clusters = Array.from({ length: o.clusters }, (_, i) => `scale-c${String(i + 1).padStart(2, '0')}`);
  const perCluster = clusters.map((cluster, i) => {
    const noise = [
      ...generateEvents(analyzer, {
        cluster,
        concurrentSessions: 50,
        total: o.noisePerCluster,
        startMs: o.startMs,
        stepMs: o.stepMs ?? 10,
        seed: 7 + 7919 * i,
      }),
    ];
    const script = new Script(cluster, analyzer, o.startMs, 40_000 + o.noisePerCluster);
    scriptIncidents(script);
    return [...noise, ...script.events];
  });
  // Sorted by event time; ties keep each cluster's own order (a session's events never swap).
  const keyed = perCluster.flatMap((events, c) => events.map((e, i) => ({ e, ms: Date.parse(e.ts), c, i })));
  keyed.sort((a, b) => a.ms - b.ms || a.c - b.c || a.i - b.i);
  return { events: keyed.map((k) => k.e), policy: policyOf(clusters), privileged: [...PRIVILEGED], clusters };
}

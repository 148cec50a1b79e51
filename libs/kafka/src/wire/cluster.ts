import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { VigieError } from '@vigie/errors';
import { describeError, type Logger } from '@vigie/runtime';
import { BrokerConnection } from './connection.js';
import { errorName, kafkaError } from './error-codes.js';
import {
  API,
  SASL_API,
  readApiVersions,
  readMetadata,
  readSaslAuthenticate,
  readSaslHandshake,
  writeMetadata,
  writeSaslAuthenticate,
  writeSaslHandshake,
  type BrokerAddress,
} from './protocol.js';
import { SaslError, startSasl, type SaslCredentials } from './sasl.js';
import { KAFKA_ERRORS } from '../errors.js';

export interface ClusterOptions {
  brokers: readonly string[];
  clientId: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  logger: Logger;
  tls?: TlsOptions | undefined;
  sasl?: SaslCredentials | undefined;
  /** Largest response frame a connection accepts. */
  maxResponseBytes?: number | undefined;
  /**
   * Metadata older than this is fetched again before it is used, and a timer refreshes it at this period, so
   * leadership moves and brokers leaving are noticed even while nothing fails (Java's `metadata.max.age.ms`).
   */
  metadataMaxAgeMs?: number | undefined;
  /** For tests: a nonce for SCRAM. */
  saslNonce?: string | undefined;
}

/** Where each partition of a topic is led: `leaders[p]` is the node id of partition p's leader (-1: none now). */
export interface TopicLayout {
  leaders: number[];
}

const parseAddress = (s: string): { host: string; port: number } => {
  const at = s.lastIndexOf(':');
  return { host: s.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(s.slice(at + 1)) };
};

const addressOf = (n: BrokerAddress) => `${n.host}:${n.port}`;

/**
 * The producer's view of the cluster: one connection per broker (checked with ApiVersions and authenticated when
 * opened), topic layouts from Metadata, refreshed on demand and when older than `metadataMaxAgeMs`. Any broker
 * answers Metadata and InitProducerId; produce requests go to each partition's leader. Connections to brokers the
 * metadata no longer lists are closed.
 */
export class Cluster {
  private readonly connections = new Map<string, Promise<BrokerConnection>>();
  private readonly nodes = new Map<number, BrokerAddress>();
  private readonly layouts = new Map<string, TopicLayout>();
  private metadataAt = 0;
  private refreshTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: ClusterOptions) {
    const period = options.metadataMaxAgeMs ?? 300_000;
    this.refreshTimer = setInterval(() => {
      if (this.layouts.size === 0) return;
      this.layout([...this.layouts.keys()], true).catch((error: unknown) =>
        options.logger.debug({ error: describeError(error) }, 'periodic kafka metadata refresh failed'),
      );
    }, period);
    this.refreshTimer.unref();
  }

  /**
   * A live connection to `address` (host:port), opened, version-checked and authenticated if needed. One that
   * failed to open, or closed since, is replaced; concurrent callers share one opening.
   */
  async connection(address: string): Promise<BrokerConnection> {
    for (;;) {
      const existing = this.connections.get(address);
      if (existing === undefined) break;
      const conn = await existing.catch(() => undefined);
      if (conn !== undefined && !conn.closed) return conn;
      // Another caller may have replaced it meanwhile: look again.
      if (this.connections.get(address) === existing) this.connections.delete(address);
    }
    if (this.closed) throw new VigieError(KAFKA_ERRORS.STOPPED, 'kafka client closed');
    const opening = this.open(address);
    this.connections.set(address, opening);
    return opening;
  }

  private async open(address: string): Promise<BrokerConnection> {
    const { host, port } = parseAddress(address);
    const conn = new BrokerConnection({ ...this.options, host, port });
    try {
      await conn.connect();
      // ApiVersions is answered before authentication (KIP-35), so a broker too old for the SASL requests is named
      // as such rather than failing the handshake.
      const { errorCode, apis } = readApiVersions(await conn.request(API.ApiVersions, () => undefined));
      const wanted = this.options.sasl ? { ...API, ...SASL_API } : API;
      const missing = errorCode
        ? [`ApiVersions failed: ${errorName(errorCode)}`]
        : Object.entries(wanted).flatMap(([name, api]) => {
            const range = apis.get(api.key);
            return range && range.min <= api.version && api.version <= range.max
              ? []
              : [`${name} v${api.version} (broker offers ${range ? `v${range.min}–v${range.max}` : 'none'})`];
          });
      if (missing.length > 0) {
        throw new VigieError(KAFKA_ERRORS.UNSUPPORTED, `kafka broker ${address} lacks ${missing.join(', ')}`, {
          retriable: false,
        });
      }
      if (this.options.sasl) await this.authenticate(conn, address, this.options.sasl);
      return conn;
    } catch (error) {
      conn.close();
      throw error;
    }
  }

  /** SaslHandshake, then SaslAuthenticate rounds until the mechanism is done (RFC 5802 for SCRAM). */
  private async authenticate(conn: BrokerConnection, address: string, sasl: SaslCredentials): Promise<void> {
    const { mechanism, username } = sasl;
    // The message names the user and mechanism, never the password.
    const refused = (why: string, cause?: unknown) =>
      new VigieError(
        KAFKA_ERRORS.AUTH,
        `kafka broker ${address} refused SASL ${mechanism} authentication of user ${JSON.stringify(username)}: ${why}`,
        { retriable: false, cause },
      );
    const handshake = readSaslHandshake(
      await conn.request(SASL_API.SaslHandshake, (w) => writeSaslHandshake(w, mechanism)),
    );
    if (handshake.errorCode !== 0) {
      throw refused(
        `${errorName(handshake.errorCode)} (the listener offers ${handshake.mechanisms.join(', ') || 'none'})`,
      );
    }
    const exchange = startSasl(sasl, this.options.saslNonce);
    let message: Buffer | undefined = exchange.first();
    while (message !== undefined) {
      const out: Buffer = message;
      const answer = readSaslAuthenticate(
        await conn.request(SASL_API.SaslAuthenticate, (w) => writeSaslAuthenticate(w, out), out.length + 64),
      );
      if (answer.errorCode !== 0) {
        // The broker's own message ("invalid credentials with SASL mechanism SCRAM-SHA-512") carries no secret.
        throw refused(`${errorName(answer.errorCode)}${answer.errorMessage ? `: ${answer.errorMessage}` : ''}`);
      }
      try {
        message = exchange.next(answer.authBytes);
      } catch (error) {
        if (error instanceof SaslError) throw refused(error.message);
        throw error;
      }
      if (message === undefined && answer.sessionLifetimeMs > 0n) conn.expireAfter(Number(answer.sessionLifetimeMs));
    }
  }

  /** The connection to node `nodeId` (from the last Metadata answer). */
  async node(nodeId: number): Promise<BrokerConnection> {
    const addr = this.nodes.get(nodeId);
    if (!addr)
      throw new VigieError(KAFKA_ERRORS.METADATA, `kafka node ${nodeId} is not in the metadata`, { retriable: true });
    return this.connection(addressOf(addr));
  }

  /**
   * Any live broker: known nodes first, then the bootstrap list; the first that connects. A non-retriable failure
   * (TLS, authentication, an unsupported broker) is thrown at once: another broker of the same cluster would say
   * the same, and a wrong password must not be tried on every broker in turn.
   */
  async any(start = 0): Promise<BrokerConnection> {
    const known = [...new Set([...[...this.nodes.values()].map(addressOf), ...this.options.brokers])];
    // From the `start`-th on: a caller retrying a broker's refusal asks the next one (see the producer's id).
    const from = start % Math.max(1, known.length);
    const addresses = [...known.slice(from), ...known.slice(0, from)];
    let last: unknown;
    for (const address of addresses) {
      try {
        return await this.connection(address);
      } catch (error) {
        if (error instanceof VigieError && !error.retriable) throw error;
        last = error;
      }
    }
    throw last ?? new VigieError(KAFKA_ERRORS.CONNECTION, 'no kafka broker configured', { retriable: true });
  }

  /** The layout of `topics`, fetching metadata if one is unknown, `refresh` is set, or it is older than its max age. */
  async layout(topics: readonly string[], refresh = false): Promise<Map<string, TopicLayout>> {
    const stale = Date.now() - this.metadataAt > (this.options.metadataMaxAgeMs ?? 300_000);
    const wanted =
      refresh || stale ? [...new Set([...topics, ...this.layouts.keys()])] : topics.filter((t) => !this.layouts.has(t));
    if (wanted.length > 0) await this.fetchMetadata(wanted);
    const out = new Map<string, TopicLayout>();
    for (const t of topics) {
      const layout = this.layouts.get(t);
      if (!layout) throw new VigieError(KAFKA_ERRORS.METADATA, `no metadata for topic ${t}`, { retriable: true });
      out.set(t, layout);
    }
    return out;
  }

  private async fetchMetadata(topics: readonly string[]): Promise<void> {
    const conn = await this.any();
    const answer = readMetadata(await conn.request(API.Metadata, (w) => writeMetadata(w, topics)));
    conn.throttle(answer.throttleTimeMs);
    this.metadataAt = Date.now();
    this.nodes.clear();
    for (const b of answer.brokers) this.nodes.set(b.nodeId, b);
    this.closeDeparted();
    const problems: string[] = [];
    for (const t of answer.topics) {
      if (t.errorCode !== 0 || t.partitions.length === 0) {
        this.layouts.delete(t.name);
        const { action, vigieCode } = kafkaError(t.errorCode);
        if (t.errorCode !== 0 && action === 'fatal') {
          throw new VigieError(
            vigieCode ?? KAFKA_ERRORS.METADATA,
            t.errorCode === 29
              ? `kafka refuses this client (${this.who()}) access to topic ${t.name} (TOPIC_AUTHORIZATION_FAILED): ` +
                  'it needs an ACL allowing Describe and Write on the topic'
              : `kafka metadata of topic ${t.name}: ${errorName(t.errorCode)}`,
            { retriable: false, context: { topic: t.name, error: errorName(t.errorCode) } },
          );
        }
        problems.push(`${t.name}: ${t.errorCode ? errorName(t.errorCode) : 'no partitions'}`);
        continue;
      }
      const leaders: number[] = [];
      for (const p of t.partitions) leaders[p.partition] = p.leader; // -1 while the partition has no leader
      this.layouts.set(t.name, { leaders: Array.from(leaders, (l) => l ?? -1) });
    }
    if (problems.length > 0) {
      throw new VigieError(KAFKA_ERRORS.METADATA, `kafka metadata: ${problems.join('; ')}`, { retriable: true });
    }
  }

  /** Who this client authenticates as, for messages. */
  who(): string {
    return this.options.sasl ? `user ${JSON.stringify(this.options.sasl.username)}` : 'anonymous';
  }

  /**
   * Closes connections to addresses the cluster no longer lists (a broker removed, or moved to another address):
   * nothing will be sent there again, and the socket would otherwise stay open until the broker drops it. A
   * bootstrap address that is not a node is closed too (reopened only if every known node is gone). Requests in
   * flight on such a connection finish first.
   */
  private closeDeparted(): void {
    const live = new Set([...this.nodes.values()].map(addressOf));
    for (const [address, opening] of this.connections) {
      if (live.has(address)) continue;
      this.connections.delete(address);
      opening.then(
        (c) => c.retire(),
        () => undefined,
      );
    }
  }

  /** Addresses this client holds a connection (or an opening) to; for tests. */
  connectedAddresses(): string[] {
    return [...this.connections.keys()];
  }

  /** Closes every connection (requests in flight fail) and stops the periodic refresh. */
  close(): void {
    this.closed = true;
    clearInterval(this.refreshTimer);
    for (const opening of this.connections.values())
      opening.then(
        (c) => c.close(),
        () => undefined,
      );
    this.connections.clear();
  }
}
